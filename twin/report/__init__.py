"""Reports: plots (PNG) and a self-contained HTML page per run."""

from twin.report.html import write_report

__all__ = ["write_report"]
