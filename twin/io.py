"""Atomic output: every file is written to a temporary name beside it and renamed into place, and a
run's results folder is written whole or not at all (``ResultsFolder``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


class OutputError(ValueError):
    """A results folder that cannot be written (or is in use): ``str()`` is the one line to print."""


NAME_MAX = 255  # bytes in one name of a path (Linux, macOS)


def check_output_folder(out: str | Path) -> Path:
    """Check ``--out`` before a run: not empty, not an existing file, names not too long, its nearest
    existing parent a folder. Returns it as a Path; OutputError says what is wrong."""
    if str(out) == "":
        raise OutputError("--out '': an empty name is not a folder")
    path = Path(out)
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise OutputError(f"--out {out}: a name in the path is longer than {NAME_MAX} bytes")
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"--out {out}: {_shown(parent, out)} is not a folder")
    return path


def check_output_file(name: str, value: str | Path) -> Path:
    """Check a file argument (``schema --out``, ``topology --png``) before anything is computed."""
    path = Path(value)
    if str(value) == "":
        raise OutputError(f"{name} '': an empty name is not a file")
    if path.is_dir():
        raise OutputError(f"{name} {value}: is a folder, not a file")
    folder = path.absolute().parent
    if not folder.exists():
        raise OutputError(f"{name} {value}: the folder {_shown(folder, value)} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{name} {value}: {_shown(folder, value)} is not a folder")
    return path


def _shown(p: Path, given: str | Path) -> str:
    """``p`` as the user wrote the path that contains it: relative if they gave a relative one."""
    return str(p) if Path(given).is_absolute() else os.path.relpath(p)


def lock_folder(out: Path):
    """Take the lock beside the folder ``out`` (``.NAME.lock``, holding this process's id) and return its
    open file: the lock holds until the file is closed. OutputError if another mailtwin process holds it
    or the place cannot be written."""
    import fcntl

    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        lock = open(parent / f".{out.name}.lock", "a+")  # noqa: SIM115 - held until the caller closes it
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write in {_shown(parent, out)} ({reason(exc)})") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        pid = lock.read().strip()
        lock.close()
        raise OutputError(
            f"--out {out}: another mailtwin run is writing there" + (f" (pid {pid})" if pid else "")
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


class ResultsFolder:
    """A run's results folder, written whole or not at all.

    ``open()`` (before the run) takes a lock beside the folder (``.NAME.lock``: a second run into the same
    folder is refused while this one holds it) and so also checks that the place is writable. ``staging``
    is a fresh sibling folder the results are written into; ``commit()`` swaps it in place of the old
    folder in one step (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two renames) and removes the
    old content, with signals held off meanwhile. ``close()`` without a commit removes the staging folder:
    the old folder stays exactly as it was, and no file of an earlier run survives beside new ones."""

    def __init__(self, out: str | Path):
        self.out = check_output_folder(out)
        self.staging: Path | None = None
        self._lock = None

    def open(self) -> ResultsFolder:
        out = self.out
        parent = out.absolute().parent
        self._lock = lock_folder(out)
        for stale in parent.glob(f".{out.name}.*.staging"):  # left by a run that was killed (SIGKILL)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            self.staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".staging", dir=parent))
            os.chmod(self.staging, 0o777 & ~_UMASK)
        except OSError as exc:
            self.close()
            raise OutputError(f"--out {out}: cannot write in {_shown(parent, out)} ({reason(exc)})") from None
        return self

    def commit(self) -> None:
        """Put the staging folder in place of ``out``."""
        import signal

        blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            if self.out.is_dir():
                _exchange(self.staging, self.out)  # staging now holds the old results
                shutil.rmtree(self.staging, ignore_errors=True)
            else:
                os.rename(self.staging, self.out)
            self.staging = None
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    def close(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        if self._lock is not None:
            self._lock.close()  # releases the lock; the lock file stays for the next run
            self._lock = None

    def __enter__(self) -> ResultsFolder:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _exchange(a: Path, b: Path) -> None:
    """Swap two folders in one step where the system can, else in two renames."""
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return
        if ctypes.get_errno() not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))
    aside = a.with_name(a.name.removesuffix(".staging") + ".old.staging")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)
