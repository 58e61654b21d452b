"""Calibration of the users' IMAP sessions against real software: Dovecot's IMAP server on loopback.

Issue 13 item 5, the store's ``access`` demands (docs/clients.md): what a login, a command and a KB fetched
cost the IMAP server. The platform ran Cyrus imapd 2.3; Debian's dovecot-imapd (2.3) is timed here, beside
the Dovecot LMTP that ``calibrate.py`` times, over Maildirs filled beforehand. Four kinds of session, each
on a new connection as a mail client opens one, for a user of its own:

  login    LOGIN (a static password) and LOGOUT
  select   the same with SELECT INBOX
  fetch    the same with a FETCH of the ``FETCHED`` newest messages (BODY.PEEK[]) of ``KB`` KB each
  expunge  the same with STORE +FLAGS (\\Deleted) on them and EXPUNGE

The differences between them give the cost of a login, of SELECT, of FETCH per message and per KB, and of
STORE plus EXPUNGE. The CPU is Dovecot's whole process tree (the master, the login processes and the imap
processes it forks and reaps: ``calibrate.tree_cpu``). No TLS: the platform's clients spoke IMAPS, whose
handshake the baseline's login demand includes (docs/calibration.md says what that adds).
"""

from __future__ import annotations

import imaplib
import subprocess
import tempfile
import time
from pathlib import Path

from calibrate import (
    DOVECOT,
    DOVECOT_COMMON,
    MAIL_USER,
    _free_port,
    _listening,
    _message,
    _wait_until,
    stop,
    tree_cpu,
)

IMAP_BINARY = Path("/usr/lib/dovecot/imap")
PASSWORD = "calibration-password"
FETCHED = 10  # messages a session reads (the baseline's users read about 10 new messages a login)
KB = 20  # their size
KINDS = ("login", "select", "fetch", "expunge")

IMAP_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
{common}disable_plaintext_auth = no
auth_mechanisms = plain
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={user} gid={user} home={d}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  service_count = {login_count}
}}
service imap {{
  service_count = {imap_count}
  process_min_avail = {prefork}
}}
"""


def missing() -> str | None:
    if DOVECOT is None or not IMAP_BINARY.exists():
        return "Dovecot's IMAP server not installed (Debian: dovecot-imapd)"
    return None


class ImapServer:
    """Dovecot's IMAP server over ``users`` Maildirs of ``messages`` messages each, stopped on exit."""

    def __init__(self, workdir: Path, users: int, messages: int, reuse: bool = False):
        self.d = workdir
        for sub in ("run", "state"):
            (self.d / sub).mkdir()
        for u in range(users):
            box = self.d / "mail" / f"user{u}"
            for sub in ("cur", "new", "tmp"):
                (box / sub).mkdir(parents=True)
            for i in range(messages):
                (box / "cur" / f"{1273000000 + i}.M{i}P1.calibration:2,S").write_bytes(_message(i, KB))
        subprocess.run(["chown", "-R", f"{MAIL_USER}:{MAIL_USER}", str(self.d / "mail")], check=True)
        self.port = _free_port()
        self.conf = self.d / "dovecot.conf"
        # ``reuse``: processes serve one session after another (Dovecot's high-performance mode), as Cyrus's
        # master keeps a pool of preforked imapd processes; otherwise Dovecot's default, two forks a login
        counts = (
            {"login_count": 0, "imap_count": 1000, "prefork": 4}
            if reuse
            else {"login_count": 1, "imap_count": 1, "prefork": 0}
        )
        self.conf.write_text(
            IMAP_CONF.format(
                d=self.d,
                port=self.port,
                user=MAIL_USER,
                password=PASSWORD,
                common=DOVECOT_COMMON.format(d=self.d),
                **counts,
            )
        )
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> ImapServer:
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _wait_until(lambda: _listening(self.port), self.proc, f"dovecot imap (port {self.port})")
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc)

    def session(self, user: int, kind: str) -> None:
        """One session of ``kind`` for ``user``; fails loudly if the server does not do what was asked."""
        with imaplib.IMAP4("127.0.0.1", self.port) as imap:
            imap.login(f"user{user}", PASSWORD)
            if kind != "login":
                status, data = imap.select("INBOX")
                if status != "OK":
                    raise RuntimeError(f"SELECT: {data}")
                count = int(data[0])
                if kind in ("fetch", "expunge"):
                    first = count - FETCHED + 1
                    status, data = imap.fetch(f"{first}:{count}", "(BODY.PEEK[])")
                    got = sum(len(part[1]) for part in data if isinstance(part, tuple))
                    if status != "OK" or got < FETCHED * KB * 1024:
                        raise RuntimeError(f"FETCH returned {got} bytes")
                if kind == "expunge":
                    imap.store(f"{first}:{count}", "+FLAGS", "(\\Deleted)")
                    status, data = imap.expunge()
                    if status != "OK" or len([d for d in data if d]) != FETCHED:
                        raise RuntimeError(f"EXPUNGE: {data}")
            imap.logout()


def measure(sessions: int, reuse: bool = False) -> dict[str, float]:
    """CPU ms per session of each kind (one run): ``sessions`` of each, every one for a user of its own."""
    out = {}
    users = sessions * len(KINDS) + 1
    with tempfile.TemporaryDirectory(prefix="mailtwin-calibrate-imap-") as tmp:
        Path(tmp).chmod(0o755)
        with ImapServer(Path(tmp), users, FETCHED + 5, reuse) as server:
            server.session(users - 1, "expunge")  # warm-up: the processes and the caches
            for k, kind in enumerate(KINDS):
                cpu0 = tree_cpu(server.proc.pid)
                for s in range(sessions):
                    server.session(k * sessions + s, kind)
                time.sleep(0.2)  # the last imap process exits and is reaped
                out[kind] = 1000 * (tree_cpu(server.proc.pid) - cpu0) / sessions
    return out


def _parts(med: dict[str, float]) -> dict[str, float]:
    fetch = med["fetch"] - med["select"]
    return {
        "login": med["login"],
        "select": med["select"] - med["login"],
        "fetch_per_message": fetch / FETCHED,
        "fetch_per_kb": fetch / (FETCHED * KB),
        "store_expunge": med["expunge"] - med["fetch"],
    }


def calibrate(sessions: int, repeats: int) -> dict:
    """Medians over ``repeats`` runs of each kind of session, with processes forked for each session
    (Dovecot's default) and reused (as Cyrus's preforked pool), and the parts the baseline's ``access``
    demands stand for."""
    out = {
        "dovecot": subprocess.run([DOVECOT, "--version"], capture_output=True, text=True).stdout.strip(),
        "sessions": sessions,
        "repeats": repeats,
        "fetched": FETCHED,
        "kb": KB,
    }
    for mode, reuse in (("fork", False), ("reuse", True)):
        runs = [measure(sessions, reuse) for _ in range(repeats)]
        med = {k: sorted(r[k] for r in runs)[repeats // 2] for k in KINDS}
        out[mode] = {"session_cpu_ms": med, "parts_cpu_ms": _parts(med)}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(calibrate(300, 3), indent=2))
