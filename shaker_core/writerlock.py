"""The writer lock: one flock on ``vendor/.lock`` serialises every writer (command line, runner, state, reactor)."""
from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from typing import Any

from .errors import LockHeldError

READ_ONLY_ERRORS = (errno.EROFS, errno.EACCES, errno.EPERM)


class WriterLock:
    """``with vendor.lock():`` holds an exclusive flock, or raises LockHeldError after the timeout."""

    def __init__(self, path: Path, timeout: float, poll: float) -> None:
        self.path = path
        self.timeout = timeout
        self.poll = poll
        self._handle: Any = None

    def __enter__(self) -> WriterLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+")
            mode = fcntl.LOCK_EX
        except OSError as exc:
            if exc.errno not in READ_ONLY_ERRORS:
                raise
            # a read-only project: a run with nothing to write proceeds under a shared lock; its first write fails naming the path
            if not self.path.exists():
                return self
            handle, mode = open(self.path), fcntl.LOCK_SH
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(handle)
                    handle.close()
                    raise LockHeldError(
                        f"Another salt-shaker run{holder} has held {self.path} for over {self.timeout:g} s; wait for it to finish or raise the 'lock_timeout' setting."
                    ) from None
                time.sleep(self.poll)
        if mode == fcntl.LOCK_EX:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _read_holder(handle: Any) -> str:
    handle.seek(0)
    pid = handle.read().strip()
    return f" (pid {pid})" if pid.isdigit() else ""
