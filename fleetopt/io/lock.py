"""One writer per run folder: an exclusive OS lock on a file in the folder.

`FolderLock(folder).acquire()` takes flock(2) on `folder/.fleetopt.lock` without waiting and
writes who holds it (pid, host, since) into the file; a second process is refused at once
with those three (RunInProgress, exit 2). The kernel drops the lock when the holder's process
ends, however it ends (SIGKILL, a lost raylet), so a killed run never blocks its resume: the
file it leaves behind is unlocked. `release()` unlinks the file before closing it; a process
that opened the old file meanwhile sees, once it holds the lock, that the path no longer
names the file it locked, and tries again.

flock holds on local filesystems and, on Linux, on NFS (as a whole-file lock); object
stores (s3://, gs://) have no locks, so the nightly pipeline's staged copy of a URI output is
locked on this machine only (docs/nightly.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path

from fleetopt.core.errors import RunFolderError

LOCK_FILE = ".fleetopt.lock"


class RunInProgress(RunFolderError):
    """Another process is writing this run folder (exit 2; nothing was changed)."""


class FolderLock:
    """The exclusive lock on one folder's run (not re-entrant: see runfolder.claim_output)."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now or raise RunInProgress naming its holder."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise RunInProgress(
                    f"run in progress ({holder}): another fleetopt run is writing {self.folder};"
                    " nothing was changed: wait for it to end, or use another output folder"
                ) from None
            if _names(self.path, fd):
                break
            os.close(fd)  # released and unlinked by its holder meanwhile: lock the new file
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock and its file (a no-op when not held)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def held_elsewhere(folder: str | os.PathLike[str]) -> bool:
    """Whether another live process holds `folder`'s lock (nothing is created or changed)."""
    try:
        fd = os.open(Path(folder) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _names(path: Path, fd: int) -> bool:
    """Whether `path` still names the file open as `fd`."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _holder(fd: int) -> str:
    """'pid 123, host h, since 2026-...' from the lock file, as far as it can be read."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode())
        return f"pid {record['pid']}, host {record['host']}, since {record['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its holder is still starting"
