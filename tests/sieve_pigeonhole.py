"""The Sieve corpus (tests/data/sieve) run through Dovecot Pigeonhole's ``sieve-test`` and through the
twin's engine, both brought to one comparable form.

Every script runs against every message with the envelope sender from the message's Return-Path, the
recipient ``bob@uni-paderborn.de`` and a mailbox with the folders ``FOLDERS``. Pigeonhole is run twice
per case: a dry run (the script's result) and ``-e`` with a Maildir that has those folders (the delivery).

``python -m tests.sieve_pigeonhole --record`` writes Pigeonhole's verdicts to
``tests/data/sieve/pigeonhole.json`` (with its version), so that the comparison also runs where
``sieve-test`` is not installed; where it is, the tests check the recording is still what it says.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.helpers import ROOT
from twin.sieve import Message, compile_script, deliver

CORPUS = ROOT / "tests" / "data" / "sieve"
RECORDING = CORPUS / "pigeonhole.json"
RECIPIENT = "bob@uni-paderborn.de"
FOLDERS = ("Lists", "Junk", "Work", "Archive")


def scripts() -> list[Path]:
    return sorted((CORPUS / "scripts").glob("*.sieve"))


def messages() -> list[Path]:
    return sorted((CORPUS / "messages").glob("*.eml"))


def cases() -> list[tuple[Path, Path]]:
    return [(s, m) for s in scripts() for m in messages()]


def case_id(script: Path, message: Path) -> str:
    return f"{script.stem}/{message.stem}"


def envelope_sender(message: Path) -> str:
    return Message.parse(message.read_bytes()).sender


# --- the twin ------------------------------------------------------------------------------------------


def twin_verdict(
    script: Path, message: Path, folders: tuple[str, ...] = FOLDERS, recipient: str = RECIPIENT
) -> dict:
    compiled = compile_script(script.read_text(), script.stem)
    if not compiled.ok:
        return {"compile_ok": False, "error_line": _first_line(compiled.errors[0])}
    msg = Message.parse(message.read_bytes(), envelope_sender(message), recipient)
    result = compiled.run(msg)
    delivery = deliver(result, msg, folders)
    actions = [_action(a) for a in result.actions]
    return {
        "compile_ok": True,
        "runtime_error": bool(result.errors),
        "actions": actions,
        "implicit_keep": result.implicit_keep,
        "stored": sorted(delivery.stored),
        "redirected": sorted(delivery.redirected),
        "delivery_failed": bool(delivery.errors or result.errors),
        "vacation": None if delivery.vacation is None else delivery.vacation["reason"].split(" <")[0],
    }


def _action(action: tuple) -> list:
    if action[0] == "vacation":
        return ["vacation", action[1].seconds]
    return list(action)


def _first_line(error: str) -> int:
    return int(re.search(r":(\d+): ", error).group(1))


# --- Pigeonhole -----------------------------------------------------------------------------------------


def available() -> bool:
    return shutil.which("sieve-test") is not None


def version() -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "dovecot-sieve"], capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


class Pigeonhole:
    """A scratch folder for sieve-test: its configuration, the scripts (sieve-test writes a compiled
    binary beside each) and one Maildir per delivery. As root, mail access runs as nobody."""

    def __init__(self, folders: tuple[str, ...] = FOLDERS, recipient: str = RECIPIENT):
        self.folders, self.recipient = folders, recipient
        self.dir = Path(tempfile.mkdtemp(prefix="pigeonhole-"))
        os.chmod(self.dir, 0o777)
        conf = [f"mail_location = maildir:{self.dir}/mail"]
        if os.geteuid() == 0:
            conf += ["mail_uid = 65534", "mail_gid = 65534"]
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text("\n".join(conf) + "\n")
        self.n = 0

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _copy(self, path: Path) -> Path:
        target = self.dir / path.name
        if not target.exists():
            shutil.copyfile(path, target)
            os.chmod(target, 0o644)
        return target

    def _maildir(self) -> Path:
        self.n += 1
        root = self.dir / f"mail{self.n}"
        for folder in ("", *(f".{f}" for f in self.folders)):
            for sub in ("cur", "new", "tmp"):
                (root / folder / sub).mkdir(parents=True, exist_ok=True)
        for p in [root, *root.rglob("*")]:
            os.chmod(p, 0o777)
        return root

    def run(self, script: Path, message: Path, execute: bool) -> subprocess.CompletedProcess:
        cmd = ["sieve-test", "-c", str(self.conf), "-f", envelope_sender(message), "-r", self.recipient]
        if execute:
            cmd += ["-e", "-l", f"maildir:{self._maildir()}"]
        cmd += [str(self._copy(script)), str(self._copy(message))]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30)

    def verdict(self, script: Path, message: Path) -> dict:
        dry = self.run(script, message, execute=False)
        text = dry.stdout + dry.stderr
        if "failed to compile" in text or "validation failed" in text or "parse failed" in text:
            lines = re.findall(rf"^{re.escape(script.stem)}: line (\d+): error:", text, re.M)
            return {"compile_ok": False, "error_line": int(lines[0]) if lines else None}
        runtime_error = "Performed actions:" not in text
        actions, keep = _dry_actions(text)
        done = self.run(script, message, execute=True)
        log = done.stdout + done.stderr
        stored = re.findall(r"stored mail into mailbox '([^']*)'", log)
        return {
            "compile_ok": True,
            "runtime_error": runtime_error,
            "actions": actions,
            "implicit_keep": keep or runtime_error,
            "stored": sorted(set(stored)),
            "redirected": sorted(set(re.findall(r"redirect action: forwarded to <([^>]*)>", log))),
            "delivery_failed": "final result: failed" in log,
            "vacation": _vacation(log),
        }


def _dry_actions(text: str) -> tuple[list, bool]:
    if "Performed actions:" not in text:
        return [], True
    performed, _, keep = text.partition("Implicit keep:")
    actions: list = []
    for line in performed.splitlines():
        if m := re.match(r" \* store message in folder: (.*)$", line):
            actions.append(["store", m.group(1)])
        elif m := re.match(r" \* redirect message to: <(.*)>$", line):
            actions.append(["redirect", m.group(1)])
        elif line.strip() == "* discard":
            actions.append(["discard"])
        elif m := re.match(r"\s+=> seconds : (\d+)", line):
            actions.append(["vacation", int(m.group(1))])
    return actions, "store message in folder: INBOX" in keep


_REASONS = [
    ("sent vacation response", "reply to"),
    ("discarded duplicate vacation response", "duplicate"),
    ("mailinglist recipient", "mailing list"),
    ("auto-submitted message", "auto-submitted"),
    ("precedence=bulk", "precedence bulk"),
    ("precedence=list", "precedence list"),
    ("precedence=junk", "precedence junk"),
    ("x-auto-response-suppress header", "auto-response suppressed"),
    ("system address", "system address"),
    ("no known (envelope) recipient address", "recipient not in headers"),
]


def _vacation(log: str) -> str | None:
    line = next((ln for ln in log.splitlines() if "vacation action:" in ln), None)
    if line is None:
        return None
    for phrase, reason in _REASONS:
        if phrase in line:
            return reason
    return f"unrecognised: {line}"


def record() -> dict:
    ph = Pigeonhole()
    try:
        verdicts = {case_id(s, m): ph.verdict(s, m) for s, m in cases()}
    finally:
        ph.close()
    return {"pigeonhole": version(), "recipient": RECIPIENT, "folders": list(FOLDERS), "cases": verdicts}


if __name__ == "__main__":
    if "--record" not in sys.argv:
        sys.exit("usage: python -m tests.sieve_pigeonhole --record")
    data = record()
    RECORDING.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(data['cases'])} cases from Pigeonhole {data['pigeonhole']} into {RECORDING}")
