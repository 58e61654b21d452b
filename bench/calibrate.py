"""Calibration against the real software: ``make calibrate`` -> bench/calibration.json and a table.

Issue 13 item 5: the baseline's service demands of the frontend (Exim receiving a message) and of the store
(an LMTP delivery) are checked against the software itself, run here on loopback from Debian's packages:

  receive   exim4-daemon-light accepts messages over SMTP on 127.0.0.1 and spools them (``queue_only``):
            what an SMTP frontend does for a message up to the end of DATA (no scanning, no lookups)
  deliver   Exim's queue runner delivers them by LMTP (``lmtp`` transport) to Dovecot's LMTP server
            (dovecot-lmtpd), which appends them to a Maildir: split into the Exim side (the frontend's
            delivery attempt) and the Dovecot side (the store's LMTP delivery)

For each message size the CPU seconds per message are the whole process tree's (the daemon and every child
it forked and reaped: user + system time from /proc), over ``--messages`` messages after a warm-up; a
straight line through the sizes gives a base per message and a cost per KB, the two numbers a scenario's
``demand`` and ``demand_per_kb`` state. With ``--syscalls`` the same is run once under strace to count the
file-system calls per message (fsyncs, files created, renames), the disk operations a demand counts.

``calibrate_directory`` (slapd, krb5kdc), ``calibrate_scanner`` (SpamAssassin) and ``calibrate_imap``
(Dovecot's IMAP) add the directory's, the scanner's and the users' sessions' operations to the same file
(``--no-directory``, ``--no-scanner``, ``--no-imap`` leave them out).

The load generator (smtplib in this process) is not part of the measurement. The platform ran Cyrus, not
Dovecot: docs/calibration.md says what carries over. CPU seconds on this machine are turned into seconds on
the scenario's reference core (a 2.4 GHz K8 Opteron) by a speed ratio stated there, not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXIM = shutil.which("exim4") or shutil.which("exim")
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
LMTP_BINARY = Path("/usr/lib/dovecot/lmtp")
TICK = os.sysconf("SC_CLK_TCK")
SIZES_KB = (2, 20, 100)  # the body sizes measured: a short text, a typical, a large message
FS_CALLS = ("fsync", "fdatasync", "openat", "rename", "unlink", "write")
MAIL_USER = "mail"  # Dovecot refuses to deliver as root; Debian's "mail" user owns the Maildirs
# A core of this machine against the baseline's reference core (a 2.4 GHz K8 Opteron): an estimate, not a
# measurement (docs/calibration.md); the tests compare the baseline's demands with the measured costs by it
SPEED_RATIO = 3.0


def missing() -> str | None:
    """Why the real software cannot be measured here, or None."""
    if os.name != "posix" or not Path("/proc/self/stat").exists():
        return "needs Linux /proc"
    if EXIM is None:
        return "exim4 not installed (Debian: exim4-daemon-light)"
    if DOVECOT is None or not LMTP_BINARY.exists():
        return "dovecot LMTP not installed (Debian: dovecot-lmtpd)"
    if os.geteuid() != 0:
        return "Exim's daemon and Dovecot's master need root to start here"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _tree(root: int) -> list[int]:
    """A process and its living descendants."""
    kids, todo, out = _children(), [root], []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants, living or reaped: each living
    process's own time plus the time of the children it has waited for."""
    ticks = 0
    for pid in _tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / TICK


def _wait_until(ready, proc: subprocess.Popen, what: str, timeout: float = 15.0) -> None:
    """Poll ``ready()`` until it is true; fail if the process exits first or the timeout passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} was not ready within {timeout:.0f} s")


def stop(proc: subprocess.Popen | None) -> None:
    """Stop a daemon started here: SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


EXIM_CONF = """\
primary_hostname = mx.example.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
daemon_smtp_ports = {port}
local_interfaces = 127.0.0.1
pid_file_path = {d}/exim.pid
exim_user = {user}
exim_group = {user}
host_lookup =
rfc1413_hosts =
queue_only = true
smtp_accept_max = 200
smtp_accept_queue_per_connection = 0
domainlist local_domains = example.test
acl_smtp_rcpt = check_rcpt

begin acl
check_rcpt:
  accept domains = +local_domains
  deny

begin routers
store:
  driver = accept
  domains = +local_domains
  transport = lmtp_store

begin transports
lmtp_store:
  driver = lmtp
  socket = {d}/lmtp
  batch_max = 1
  user = {mail_user}

begin retry
* * F,1h,1m
"""

# What every Dovecot run here shares (LMTP here, IMAP in calibrate_imap.py): loopback, no TLS, Maildirs
DOVECOT_COMMON = """\
listen = 127.0.0.1
ssl = no
mail_location = maildir:{d}/mail/%n
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
"""

DOVECOT_CONF = """\
base_dir = {d}/dovecot-run
state_dir = {d}/dovecot-state
log_path = {d}/log/dovecot.log
protocols = lmtp
{common}passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid={user} gid={user} home={d}/mail/%n
}}
service lmtp {{
  unix_listener {d}/lmtp {{
    mode = 0666
  }}
}}
"""


def _message(i: int, kb: int) -> bytes:
    line = b"The quick brown fox jumps over the lazy dog, message body line of a calibration run.\r\n"
    body = line * max(1, kb * 1024 // len(line))
    head = (
        f"From: sender{i}@remote.example\r\nTo: user{i % 50}@example.test\r\n"
        f"Subject: calibration {i}\r\nMessage-ID: <{i}.{kb}@remote.example>\r\n\r\n"
    ).encode()
    return head + body


class Platform:
    """An Exim daemon and a Dovecot LMTP server in a fresh directory, both stopped on exit."""

    def __init__(self, workdir: Path):
        self.d = workdir
        for sub in ("spool", "log", "mail", "dovecot-run", "dovecot-state"):
            (self.d / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.d / "mail", MAIL_USER, MAIL_USER)
        self.port = _free_port()
        self.exim_conf = self.d / "exim.conf"
        conf = EXIM_CONF.format(d=self.d, port=self.port, user="root", mail_user=MAIL_USER)
        self.exim_conf.write_text(conf)
        self.dovecot_conf = self.d / "dovecot.conf"
        self.dovecot_conf.write_text(
            DOVECOT_CONF.format(d=self.d, user=MAIL_USER, common=DOVECOT_COMMON.format(d=self.d))
        )
        self.exim = self.dovecot = None

    def __enter__(self) -> Platform:
        self.dovecot = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.dovecot_conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _wait_until((self.d / "lmtp").exists, self.dovecot, "dovecot (its LMTP socket)")
        self.exim = subprocess.Popen(
            [EXIM, "-C", str(self.exim_conf), "-bdf"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _wait_until(lambda: _listening(self.port), self.exim, f"exim -bdf (port {self.port})")
        return self

    def __exit__(self, *exc) -> None:
        for proc in (self.exim, self.dovecot):
            stop(proc)

    def send(self, n: int, kb: int, first: int = 0) -> None:
        """``n`` messages of ``kb`` KB, one SMTP transaction each over one connection."""
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.remote.example") as s:
            for i in range(first, first + n):
                s.sendmail(f"sender{i}@remote.example", [f"user{i % 50}@example.test"], _message(i, kb))

    def spooled(self) -> int:
        return sum(1 for p in (self.d / "spool" / "input").rglob("*-H"))

    def run_queue(self) -> float:
        """Deliver everything on the spool by LMTP; Exim's CPU seconds (the queue runner and the delivery
        processes it forks)."""
        proc = subprocess.Popen([EXIM, "-C", str(self.exim_conf), "-qff"], stderr=subprocess.PIPE)
        before = os.times()
        proc.wait(600)
        after = os.times()
        if proc.returncode != 0:
            why = proc.stderr.read().decode()[:300]
            raise RuntimeError(f"exim -qff exited with {proc.returncode}: {why}")
        return (after.children_user - before.children_user) + (after.children_system - before.children_system)

    def delivered(self) -> int:
        return sum(1 for p in (self.d / "mail").rglob("new/*") if p.is_file())


def measure_size(kb: int, messages: int, warmup: int) -> dict:
    """CPU seconds per message of Exim receiving, Exim delivering and Dovecot's LMTP, at ``kb`` KB."""
    with tempfile.TemporaryDirectory(prefix="mailtwin-calibrate-") as tmp:
        os.chmod(tmp, 0o755)
        with Platform(Path(tmp)) as p:
            p.send(warmup, kb)
            p.run_queue()
            exim0, dove0 = tree_cpu(p.exim.pid), tree_cpu(p.dovecot.pid)
            t0 = time.perf_counter()
            p.send(messages, kb, first=warmup)
            wall_receive = time.perf_counter() - t0
            exim1 = tree_cpu(p.exim.pid)
            if p.spooled() != messages:
                raise RuntimeError(f"{p.spooled()} of {messages} messages on Exim's spool")
            deliver = p.run_queue()
            dove1 = tree_cpu(p.dovecot.pid)
            if p.delivered() != messages + warmup:
                raise RuntimeError(f"{p.delivered()} of {messages + warmup} messages in the Maildirs")
    return {
        "kb": kb,
        "messages": messages,
        "receive_cpu_ms": 1000 * (exim1 - exim0) / messages,
        "deliver_cpu_ms": 1000 * deliver / messages,
        "lmtp_cpu_ms": 1000 * (dove1 - dove0) / messages,
        "receive_wall_ms": 1000 * wall_receive / messages,
    }


def count_syscalls(kb: int, messages: int) -> dict[str, dict[str, float]]:
    """File-system calls per message (strace -f -c on the Exim daemon, the queue run and Dovecot)."""
    if shutil.which("strace") is None:
        raise RuntimeError("strace not installed")
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mailtwin-calibrate-") as tmp:
        os.chmod(tmp, 0o755)
        with Platform(Path(tmp)) as p:
            p.send(3, kb)
            p.run_queue()

            def traced(pid: int, name: str):
                log = Path(tmp) / f"{name}.strace"
                pids = [str(q) for q in _tree(pid)]  # Dovecot's lmtp process outlives the warm-up
                cmd = ["strace", "-f", "-c", "-e", "trace=" + ",".join(FS_CALLS), "-o", str(log)]
                cmd += [a for q in pids for a in ("-p", q)]
                proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
                time.sleep(0.5)  # attach
                return proc, log

            strace, log = traced(p.exim.pid, "receive")
            p.send(messages, kb, first=3)
            time.sleep(0.3)
            strace.send_signal(signal.SIGINT)
            strace.wait(10)
            out["receive"] = _strace_counts(log, messages)
            strace, log = traced(p.dovecot.pid, "lmtp")
            qlog = Path(tmp) / "deliver.strace"
            trace = ["strace", "-f", "-c", "-e", "trace=" + ",".join(FS_CALLS), "-o", str(qlog)]
            queue = subprocess.run(
                [*trace, EXIM, "-C", str(p.exim_conf), "-qff"],
                capture_output=True,
                timeout=600,
            )
            if queue.returncode != 0:
                raise RuntimeError(f"exim -qff under strace: {queue.stderr.decode()[:300]}")
            time.sleep(0.3)
            strace.send_signal(signal.SIGINT)
            strace.wait(10)
            out["deliver"] = _strace_counts(qlog, messages)
            out["lmtp"] = _strace_counts(log, messages)
    return out


def _strace_counts(log: Path, messages: int) -> dict[str, float]:
    counts = dict.fromkeys(FS_CALLS, 0.0)
    for line in log.read_text().splitlines():
        parts = line.split()
        if parts and parts[-1] in counts:
            counts[parts[-1]] = int(parts[3]) / messages
    return counts


def fit(rows: list[dict], key: str) -> dict[str, float]:
    """Least-squares line ``base + per_kb * kb`` through the sizes' CPU ms per message."""
    n = len(rows)
    xs = [r["kb"] for r in rows]
    ys = [r[key] for r in rows]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return {"base_ms": my - slope * mx, "per_kb_ms": slope}


def calibrate(messages: int, warmup: int, repeats: int, syscalls: bool) -> dict:
    rows = []
    for kb in SIZES_KB:
        runs = [measure_size(kb, messages, warmup) for _ in range(repeats)]
        row = {"kb": kb, "messages": messages, "repeats": repeats}
        for key in ("receive_cpu_ms", "deliver_cpu_ms", "lmtp_cpu_ms", "receive_wall_ms"):
            vals = sorted(r[key] for r in runs)
            row[key] = vals[len(vals) // 2]
        rows.append(row)
        print(
            f"{kb:>4} KB  receive {row['receive_cpu_ms']:6.2f} ms  deliver {row['deliver_cpu_ms']:6.2f} ms"
            f"  lmtp {row['lmtp_cpu_ms']:6.2f} ms  (CPU per message, median of {repeats})",
            file=sys.stderr,
        )
    out = {
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "exim": _version([EXIM, "-bV"]),
            "dovecot": _version([DOVECOT, "--version"]),
        },
        "sizes": rows,
        "fit": {k: fit(rows, f"{k}_cpu_ms") for k in ("receive", "deliver", "lmtp")},
    }
    if syscalls:
        out["syscalls_per_message"] = {f"{kb}KB": count_syscalls(kb, messages) for kb in (SIZES_KB[0],)}
    return out


def _baseline_mailboxes() -> int:
    sys.path.insert(0, str(ROOT))
    import twin

    return twin.load_scenario(ROOT / "scenarios" / "baseline.yaml").workload.mailboxes.count


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1000, help="messages measured per size and run (1000)")
    ap.add_argument("--warmup", type=int, default=50, help="messages sent first and not measured (50)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per size; the table shows medians (3)")
    ap.add_argument("--no-syscalls", action="store_true", help="skip the strace run (system calls)")
    ap.add_argument(
        "--no-directory", action="store_true", help="skip slapd and krb5kdc (bench/calibrate_directory.py)"
    )
    ap.add_argument(
        "--operations", type=int, default=2000, help="directory operations per kind and run (2000)"
    )
    ap.add_argument(
        "--no-scanner", action="store_true", help="skip SpamAssassin (bench/calibrate_scanner.py)"
    )
    ap.add_argument("--scan-messages", type=int, default=100, help="messages per SpamAssassin run (100)")
    ap.add_argument("--no-imap", action="store_true", help="skip Dovecot's IMAP (bench/calibrate_imap.py)")
    ap.add_argument("--sessions", type=int, default=300, help="IMAP sessions per kind and run (300)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "calibration.json", help="where to write")
    args = ap.parse_args(argv)
    import calibrate_directory  # it borrows this module's helpers: imported here, not in a cycle at the top
    import calibrate_imap
    import calibrate_scanner

    why = (
        missing()
        or (None if args.no_directory else calibrate_directory.missing())
        or (None if args.no_scanner else calibrate_scanner.missing())
        or (None if args.no_imap else calibrate_imap.missing())
    )
    if why:
        print(f"calibrate: cannot measure the real software here: {why}", file=sys.stderr)
        return 2
    result = calibrate(args.messages, args.warmup, args.repeats, not args.no_syscalls)
    if not args.no_directory:
        users = _baseline_mailboxes()  # the directory's entries: one per mailbox of the baseline
        result["directory"] = calibrate_directory.calibrate(users, args.operations, args.warmup, args.repeats)
    if not args.no_scanner:
        result["scanner"] = calibrate_scanner.calibrate(args.scan_messages, args.repeats)
    if not args.no_imap:
        result["imap"] = calibrate_imap.calibrate(args.sessions, args.repeats)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for k, f in result["fit"].items():
        print(f"{k:8} {f['base_ms']:6.2f} ms per message + {f['per_kb_ms']:.4f} ms per KB (this machine)")
    for k, op in result.get("directory", {}).get("per_operation", {}).items():
        print(f"{k:12} {op['cpu_ms']:6.3f} ms CPU per operation (this machine)")
    for row in result.get("scanner", {}).get("sizes", []):
        print(f"scan {row['kb']:>4} KB {row['scan_cpu_ms']:7.1f} ms CPU a message (SpamAssassin, here)")
    for mode in ("fork", "reuse"):
        for k, v in result.get("imap", {}).get(mode, {}).get("parts_cpu_ms", {}).items():
            print(f"imap {mode:5} {k:17} {v:6.3f} ms CPU (Dovecot, here)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
