"""Calibration of the scanner against real software: SpamAssassin scanning messages of natural text.

Issue 13 item 5: the platform scanned with Sophos PureMessage, which is not packaged; SpamAssassin is (Debian:
spamassassin), and PureMessage's anti-spam engine of 2010 was the same kind of rule-based scan (header, body
and URI rules, a score). This times Debian's SpamAssassin with its shipped rules and local tests only (``-L``:
no DNS blocklists, no network), the work a scanner's CPU does for each message:

  scan   ``spamassassin -L --mbox`` over N messages, less the same over one message (Perl's start and the
         rules' compilation): the CPU seconds of the process per message, at several sizes

The bodies are natural text (the project's own documentation, cut into messages at an offset each, so no two
are alike) with the headers a message from outside carries; a body of one repeated line, as the first hand
timing used, lets the rules' regular expressions run differently. SpamAssassin scans at most
``body_part_scan_size`` (50,000 bytes by default) of each text part, so the cost per KB flattens above that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPAMASSASSIN = shutil.which("spamassassin")
SIZES_KB = (2, 20, 100)


def missing() -> str | None:
    if SPAMASSASSIN is None:
        return "SpamAssassin not installed (Debian: spamassassin)"
    return None


def _corpus() -> list[str]:
    words: list[str] = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        words.extend(doc.read_text(encoding="utf-8").split())
    return words


def message(i: int, kb: int, words: list[str]) -> str:
    """A message of about ``kb`` KB from outside: Received, Date, From, To, Subject, Message-ID and a body of
    natural text in lines of about 70 characters, taken from the corpus at an offset of its own."""
    start = (i * 7919) % len(words)
    body, line, size = [], [], 0
    k = start
    while size < kb * 1024:
        word = words[k % len(words)]
        k += 1
        line.append(word)
        if sum(len(w) + 1 for w in line) > 70:
            text = " ".join(line)
            body.append(text)
            size += len(text) + 1
            line = []
    head = (
        f"From sender{i}@remote.example Mon May  3 09:00:00 2010\n"
        f"Received: from mx{i % 7}.remote.example (mx{i % 7}.remote.example [192.0.2.{i % 250 + 1}])\n"
        f"\tby mail.uni-paderborn.de with esmtp id {i:06d}; Mon, 03 May 2010 09:00:00 +0200\n"
        f"Date: Mon, 03 May 2010 08:59:{i % 60:02d} +0200\n"
        f"From: Sender {i} <sender{i}@remote.example>\nTo: user{i % 50}@uni-paderborn.de\n"
        f"Subject: {' '.join(words[start : start + 6])}\nMessage-ID: <{i}.{kb}@remote.example>\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
    )
    return head + "\n".join(body) + "\n\n"


def _scan_cpu(mbox: Path, home: Path) -> float:
    """CPU seconds of one ``spamassassin -L --mbox`` over the file (its process and any children)."""
    before = os.times()
    out = subprocess.run(
        [SPAMASSASSIN, "-L", "--mbox", "--exit-code"],
        stdin=mbox.open("rb"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "HOME": str(home)},  # its user state (Bayes, AWL) lives in a fresh directory
        timeout=1800,
    )
    after = os.times()
    if out.returncode not in (0, 1):  # --exit-code: 1 when the last message is spam
        raise RuntimeError(f"spamassassin exited with {out.returncode}: {out.stderr.decode()[:300]}")
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def measure(kb: int, messages: int) -> float:
    """CPU ms per message at ``kb`` KB: a run over ``messages`` less a run over one."""
    words = _corpus()
    with tempfile.TemporaryDirectory(prefix="mailtwin-calibrate-sa-") as tmp:
        d = Path(tmp)
        one, many = d / "one.mbox", d / "many.mbox"
        one.write_text(message(0, kb, words))
        many.write_text("".join(message(i, kb, words) for i in range(messages)))
        base = _scan_cpu(one, d)
        full = _scan_cpu(many, d)
    return 1000 * (full - base) / (messages - 1)


def calibrate(messages: int, repeats: int) -> dict:
    rows = []
    for kb in SIZES_KB:
        runs = sorted(measure(kb, messages) for _ in range(repeats))
        rows.append(
            {"kb": kb, "messages": messages, "scan_cpu_ms": runs[len(runs) // 2], "runs_cpu_ms": runs}
        )
    version = subprocess.run([SPAMASSASSIN, "-V"], capture_output=True, text=True).stdout.splitlines()
    return {"spamassassin": version[0] if version else "unknown", "local_tests_only": True, "sizes": rows}
