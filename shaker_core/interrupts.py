"""Ctrl-C (SIGINT) and SIGTERM stop a run promptly, leaving the old release served and the old lock.

The command line installs the handlers. Outside the commit step a signal raises
``Interrupted`` in the main thread at once, so staging directories are removed by
the ``finally`` blocks that made them; fetch threads see ``requested()`` in their
progress callback and give up. The commit step (stage the lock, switch ``_root``,
rename the lock) only records a signal: it checks between its steps and undoes
what it did, so an interrupt never leaves ``_root`` and the lock disagreeing.
Inside Salt the daemon owns its signals, and nothing here is installed.
"""
from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error of the run
    """A signal asked the run to stop; ``exit_code`` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


_requested: list[int] = []  # the signal that asked the run to stop, once one has
_deferring = [0]


def requested() -> bool:
    """Whether a signal asked the run to stop (any thread may ask)."""
    return bool(_requested)


def raise_if_requested() -> None:
    """Raise ``Interrupted`` if a signal asked the run to stop."""
    if _requested:
        raise Interrupted(_requested[0])


@contextmanager
def deferred() -> Iterator[None]:
    """Within this block a signal is only recorded; the block checks ``raise_if_requested()`` itself."""
    _deferring[0] += 1
    try:
        yield
    finally:
        _deferring[0] -= 1


@contextmanager
def handled() -> Iterator[None]:
    """Install the SIGINT and SIGTERM handlers for one run (main thread only), and restore the old ones."""
    previous = {signum: signal.signal(signum, _handler) for signum in SIGNALS}
    _requested.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # once a run is stopping, a second signal (a fetch thread's, a second Ctrl-C) must not kill it
            # before it has said so and exited with 128 + the first signal
            signal.signal(signum, signal.SIG_IGN if _requested else handler)


def _handler(signum: int, frame: FrameType | None) -> None:
    if _requested:
        return  # already stopping: a second signal must not interrupt the cleanup of the first
    _requested.append(signum)
    if not _deferring[0]:
        raise Interrupted(signum)
