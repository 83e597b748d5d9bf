"""Which uid a root worker's sandboxed command runs as: one of ``sandbox.uid_pool_size`` uids
from ``sandbox.uid``, leased for the command's lifetime. ``RLIMIT_NPROC`` counts processes per
uid across the whole host, so with a uid of its own one command filling its process limit (a
fork bomb in a test suite) cannot stop the tests of another run from forking.

Leases are ``flock`` locks on one file per uid in a root-only directory, so all workers of a
host share the pool, and a worker that dies releases its leases with its file descriptors.
When every uid is leased a command shares one, as if the pool had one uid: it never waits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("autopilot.sandbox")
LOCK_DIR = Path("/run/autopilot-sandbox-uids")
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class UidPool:
    """Leases uids ``first`` .. ``first + size - 1``, each to one command at a time."""

    def __init__(self, first: int, size: int, lock_dir: Path = LOCK_DIR) -> None:
        self._uids = range(first, first + size)
        self._lock_dir = lock_dir
        self._host_wide: bool | None = None  # can leases be seen by other workers?
        self._held: set[int] = set()  # this worker's leases
        self._turn = 0

    @contextmanager
    def lease(self) -> Iterator[int]:
        uid, fd = self._acquire()
        try:
            yield uid
        finally:
            if fd is not None:
                self._held.discard(uid)
                if fd >= 0:
                    os.close(fd)  # releases the flock

    def _acquire(self) -> tuple[int, int | None]:
        """(uid, lock fd): -1 for a lease only this worker knows of, None for a shared uid."""
        size = len(self._uids)
        for step in range(size):
            uid = self._uids[(self._turn + step) % size]
            if uid in self._held:
                continue
            fd = self._lock(uid)
            if fd is not None:
                self._held.add(uid)
                self._turn = (self._turn + step + 1) % size
                return uid, fd
        uid = self._uids[self._turn]
        self._turn = (self._turn + 1) % size
        return uid, None

    def _lock(self, uid: int) -> int | None:
        if not self._usable_dir():
            return -1
        try:
            fd = os.open(self._lock_dir / f"{uid}.lock", _LOCK_FLAGS, 0o600)
        except OSError as err:  # a full disk, say: the command still runs, leased in-process
            log.warning("sandbox uid %d leased in this worker only: %s", uid, err)
            return -1
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _usable_dir(self) -> bool:
        """A directory only this user can write: lock files elsewhere could be planted."""
        if self._host_wide is None:
            try:
                self._lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                info = self._lock_dir.lstat()
                self._host_wide = (
                    stat.S_ISDIR(info.st_mode)
                    and info.st_uid == os.geteuid()
                    and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
                )
            except OSError:
                self._host_wide = False
            if not self._host_wide:
                log.warning(
                    "sandbox uid leases are per worker: %s is not a private directory",
                    self._lock_dir,
                )
        return self._host_wide
