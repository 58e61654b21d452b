"""Analysis: KPIs from a run, queueing theory to validate against, confidence intervals."""
