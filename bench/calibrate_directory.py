"""Calibration of the directory services against the real software: OpenLDAP's slapd and MIT's krb5kdc.

Issue 13 item 5, the part ``bench/calibrate.py`` leaves out: the baseline's LDAP and KDC demands, checked
against Debian's slapd (2.5, back-mdb) and krb5-kdc (1.20) run here on loopback with a population of users:

  ldap_search  Exim's recipient lookup at RCPT: an equality search on ``mail`` (indexed), many over one
               connection (``ldapsearch -f``), as a frontend's lookups reuse theirs
  ldap_bind    a user's password login at the store (IMAP, POP, webmail): a simple bind with a {SSHA}
               password on a new TCP connection, then unbind; the connection's cost is included
  kdc_as       a desktop's Kerberos login: ``kinit`` with a password, an AS exchange with pre-authentication
               (two requests: the first is answered PREAUTH_REQUIRED)
  kdc_tgs      a Kerberos login at the store or at submission: ``kvno`` asks for a service ticket with a
               TGT the client already holds, one TGS exchange; what the baseline's KDC demand stands for

The CPU seconds per operation are the daemon's (its threads' run time from /proc/PID/task/*/schedstat) over
``--operations`` operations after a warm-up; the clients (ldapsearch, kinit, kvno, the bind loop here) are
not counted. Everything lives in a fresh directory; nothing of the machine's own LDAP or Kerberos is read
or changed (KRB5_CONFIG and KRB5_KDC_PROFILE point into it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from calibrate import _free_port, _listening, _wait_until, stop

SLAPD = shutil.which("slapd") or ("/usr/sbin/slapd" if Path("/usr/sbin/slapd").exists() else None)
SLAPADD = shutil.which("slapadd") or ("/usr/sbin/slapadd" if Path("/usr/sbin/slapadd").exists() else None)
LDAPSEARCH = shutil.which("ldapsearch")
KRB5KDC = shutil.which("krb5kdc") or ("/usr/sbin/krb5kdc" if Path("/usr/sbin/krb5kdc").exists() else None)
KDB5_UTIL = shutil.which("kdb5_util") or (
    "/usr/sbin/kdb5_util" if Path("/usr/sbin/kdb5_util").exists() else None
)
KADMIN_LOCAL = shutil.which("kadmin.local") or (
    "/usr/sbin/kadmin.local" if Path("/usr/sbin/kadmin.local").exists() else None
)
KINIT, KVNO, KLIST = shutil.which("kinit"), shutil.which("kvno"), shutil.which("klist")
SUFFIX = "dc=example,dc=test"
REALM = "EXAMPLE.TEST"
PASSWORD = "calibration-password"
SERVICE = "imap/store.example.test"
# kadmin.local derives each password's keys when it adds a principal: slow for 17,500, and the KDC's
# lookup in its database hardly depends on the size (est), so the realm has at most this many users
KDC_PRINCIPALS = 500


def missing() -> str | None:
    """Why slapd and the KDC cannot be measured here, or None."""
    if not (SLAPD and SLAPADD and LDAPSEARCH):
        return "OpenLDAP not installed (Debian: slapd, ldap-utils)"
    if not (KRB5KDC and KDB5_UTIL and KADMIN_LOCAL):
        return "MIT Kerberos KDC not installed (Debian: krb5-kdc, krb5-admin-server)"
    if not (KINIT and KVNO and KLIST):
        return "Kerberos clients not installed (Debian: krb5-user)"
    return None


# -- OpenLDAP -----------------------------------------------------------------------------------------------

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {d}/slapd.pid
access to attrs=userPassword by anonymous auth by * none
access to * by * read
database mdb
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
directory {d}/db
maxsize 1073741824
index objectClass eq
index mail,uid eq
"""


def _ssha(password: str, salt: bytes) -> str:
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _ldif(users: int) -> str:
    out = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: calibration\n"]
    out.append(f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n")
    for i in range(users):
        out.append(
            f"dn: uid=user{i},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: user{i}\n"
            f"cn: User {i}\nsn: {i}\nmail: user{i}@example.test\n"
            f"userPassword: {_ssha(PASSWORD, i.to_bytes(4, 'big'))}\n"
        )
    return "\n".join(out)


def _ber_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _ber_len(len(value)) + value


def bind_request(message_id: int, dn: str, password: str) -> bytes:
    """An LDAPv3 simple BindRequest (RFC 4511 §4.2) as BER."""
    bind = _tlv(0x02, b"\x03") + _tlv(0x04, dn.encode()) + _tlv(0x80, password.encode())
    return _tlv(0x30, _tlv(0x02, bytes([message_id])) + _tlv(0x60, bind))


def bind_result(reply: bytes) -> int:
    """The resultCode of a BindResponse: the first ENUMERATED after the [APPLICATION 1] tag."""
    at = reply.find(b"\x61")
    code = reply.find(b"\x0a\x01", at)
    if at < 0 or code < 0:
        raise RuntimeError(f"not a BindResponse: {reply[:32].hex()}")
    return reply[code + 2]


UNBIND = _tlv(0x30, _tlv(0x02, b"\x02") + b"\x42\x00")


class Slapd:
    """slapd with ``users`` entries in a fresh back-mdb database on 127.0.0.1, stopped on exit."""

    def __init__(self, workdir: Path, users: int):
        self.d, self.users = workdir, users
        (self.d / "db").mkdir(parents=True)
        self.conf = self.d / "slapd.conf"
        self.conf.write_text(SLAPD_CONF.format(d=self.d, suffix=SUFFIX))
        ldif = self.d / "people.ldif"
        ldif.write_text(_ldif(users))
        load = subprocess.run([SLAPADD, "-q", "-f", str(self.conf), "-l", str(ldif)], capture_output=True)
        if load.returncode != 0:
            raise RuntimeError(f"slapadd exited with {load.returncode}: {load.stderr.decode()[:300]}")
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Slapd:
        url = f"ldap://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen(  # -d 0: stay in the foreground, log nothing
            [SLAPD, "-f", str(self.conf), "-h", url, "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _wait_until(lambda: _listening(self.port), self.proc, f"slapd (port {self.port})")
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc)

    def searches(self, first: int, n: int) -> None:
        """``n`` equality searches on mail over one connection; each must find its entry."""
        names = self.d / "names"
        names.write_text("".join(f"user{(first + i) % self.users}@example.test\n" for i in range(n)))
        url = f"ldap://127.0.0.1:{self.port}/"
        cmd = [LDAPSEARCH, "-x", "-LLL", "-H", url, "-b", SUFFIX, "-f", str(names), "(mail=%s)", "uid"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        found = out.stdout.count("\ndn: ") + out.stdout.startswith("dn: ")
        if out.returncode != 0 or found != n:
            raise RuntimeError(f"ldapsearch found {found} of {n} (exit {out.returncode}): {out.stderr[:200]}")

    def binds(self, first: int, n: int) -> None:
        """``n`` simple binds, each on a new connection, each of which must succeed."""
        for i in range(first, first + n):
            dn = f"uid=user{i % self.users},ou=people,{SUFFIX}"
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                s.sendall(bind_request(1, dn, PASSWORD))
                code = bind_result(s.recv(4096))
                if code != 0:
                    raise RuntimeError(f"bind as {dn} answered resultCode {code}")
                s.sendall(UNBIND)


# -- MIT Kerberos -------------------------------------------------------------------------------------------

KRB5_CONF = """\
[libdefaults]
    default_realm = {realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    udp_preference_limit = 1465
[realms]
    {realm} = {{
        kdc = 127.0.0.1:{port}
    }}
"""

KDC_CONF = """\
[kdcdefaults]
    kdc_ports = {port}
    kdc_tcp_ports = {port}
[realms]
    {realm} = {{
        database_name = {d}/principal
        key_stash_file = {d}/stash
        acl_file = {d}/kadm5.acl
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
        max_life = 10h
    }}
[logging]
    kdc = FILE:{d}/kdc.log
"""


class Kdc:
    """krb5kdc with ``users`` principals and one service in a fresh realm on 127.0.0.1, stopped on exit."""

    def __init__(self, workdir: Path, users: int):
        self.d, self.users = workdir, users
        self.port = _free_port()
        (self.d / "krb5.conf").write_text(KRB5_CONF.format(realm=REALM, port=self.port))
        (self.d / "kdc.conf").write_text(KDC_CONF.format(realm=REALM, port=self.port, d=self.d))
        (self.d / "kadm5.acl").write_text("")
        self.env = {
            **os.environ,
            "KRB5_CONFIG": str(self.d / "krb5.conf"),
            "KRB5_KDC_PROFILE": str(self.d / "kdc.conf"),
        }
        self._run([KDB5_UTIL, "-r", REALM, "create", "-s", "-P", "calibration-master"])
        script = [f"addprinc -pw {PASSWORD} user{i}" for i in range(users)]
        script.append(f"addprinc -randkey {SERVICE}")
        self._run([KADMIN_LOCAL, "-r", REALM], stdin="\n".join(script) + "\n")
        self.proc: subprocess.Popen | None = None
        self.tgt = self.d / "tgt.ccache"

    def _run(self, cmd: list[str], stdin: str | None = None, env: dict | None = None) -> str:
        out = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, env=env or self.env, timeout=600
        )
        if out.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} exited with {out.returncode}: {out.stderr[:300]}")
        return out.stdout

    def __enter__(self) -> Kdc:
        self.proc = subprocess.Popen(
            [KRB5KDC, "-n", "-r", REALM], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _wait_until(lambda: _listening(self.port), self.proc, f"krb5kdc (port {self.port})")
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc)

    def kinits(self, first: int, n: int) -> None:
        """``n`` AS exchanges: kinit with a password (read from standard input), a new cache each."""
        for i in range(first, first + n):
            cache = f"FILE:{self.tgt}" if i == first else f"FILE:{self.d}/as.ccache"
            env = {**self.env, "KRB5CCNAME": cache}
            self._run([KINIT, f"user{i % self.users}@{REALM}"], stdin=PASSWORD + "\n", env=env)

    def tgs(self, n: int) -> None:
        """``n`` TGS exchanges: kvno for the service with a copy of the TGT alone, so none is cached."""
        cache = self.d / "tgs.ccache"
        env = {**self.env, "KRB5CCNAME": f"FILE:{cache}"}
        for _ in range(n):
            shutil.copyfile(self.tgt, cache)
            self._run([KVNO, SERVICE], env=env)


def thread_cpu(pid: int) -> float:
    """CPU seconds of a daemon's living threads, from the scheduler's nanosecond counts (/proc's ticks are
    10 ms, too coarse for operations of a fraction of a millisecond); slapd and krb5kdc fork no children."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def _per_op(proc: subprocess.Popen, work, n: int) -> tuple[float, float]:
    """The daemon's CPU ms and the wall ms per operation of ``work(n)``."""
    cpu0, t0 = thread_cpu(proc.pid), time.perf_counter()
    work(n)
    wall = time.perf_counter() - t0
    return 1000 * (thread_cpu(proc.pid) - cpu0) / n, 1000 * wall / n


def measure(users: int, operations: int, warmup: int) -> dict[str, dict[str, float]]:
    """CPU ms per operation of slapd (search, bind) and krb5kdc (AS, TGS): one run each."""
    out: dict[str, dict[str, float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="mailtwin-calibrate-ldap-") as tmp,
        Slapd(Path(tmp), users) as ldap,
    ):
        ldap.searches(0, warmup)
        ldap.binds(0, warmup)
        for name, work in (
            ("ldap_search", lambda n: ldap.searches(warmup, n)),
            ("ldap_bind", lambda n: ldap.binds(warmup, n)),
        ):
            cpu, wall = _per_op(ldap.proc, work, operations)
            out[name] = {"cpu_ms": cpu, "wall_ms": wall}
    kdc_users = min(users, KDC_PRINCIPALS)
    with (
        tempfile.TemporaryDirectory(prefix="mailtwin-calibrate-kdc-") as tmp,
        Kdc(Path(tmp), kdc_users) as kdc,
    ):
        kdc.kinits(0, warmup)
        kdc.tgs(warmup)
        for name, work in (("kdc_as", lambda n: kdc.kinits(warmup, n)), ("kdc_tgs", kdc.tgs)):
            cpu, wall = _per_op(kdc.proc, work, operations)
            out[name] = {"cpu_ms": cpu, "wall_ms": wall}
    return out


def calibrate(users: int, operations: int, warmup: int, repeats: int) -> dict:
    """Medians over ``repeats`` runs of each operation's CPU ms, with the versions measured."""
    runs = [measure(users, operations, warmup) for _ in range(repeats)]
    ops = {}
    for name in runs[0]:
        cpu = sorted(r[name]["cpu_ms"] for r in runs)
        wall = sorted(r[name]["wall_ms"] for r in runs)
        ops[name] = {"cpu_ms": cpu[len(cpu) // 2], "wall_ms": wall[len(wall) // 2], "runs_cpu_ms": cpu}
    return {
        "users": users,
        "kdc_principals": min(users, KDC_PRINCIPALS),
        "operations": operations,
        "repeats": repeats,
        "slapd": _first_line([SLAPD, "-VV"]),
        "krb5kdc": _first_line([KLIST, "-V"]),
        "per_operation": ops,
    }


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return ((out.stdout or "") + (out.stderr or "")).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"
