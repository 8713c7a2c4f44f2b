"""A run's progress as counts: formulas fetched out of those known so far, bytes received, the formula being exported.

The git cache reports each fetch it starts and finishes and the bytes each
transfer has received, and each export it begins; :class:`RunProgress` keeps the
totals and hands a :class:`Counts` snapshot to its ``show`` callback after each
change (from the fetch threads too, one call at a time). The command line draws
one updating line from it; the runner fires progress events with the same counts.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Callable, Literal

Change = Literal["started", "received", "fetched", "exporting"]


@dataclass(frozen=True)
class Counts:
    """The run so far, and what just changed (``change``, about ``name``)."""

    known: int = 0
    fetched: int = 0
    received_bytes: int = 0
    exporting: str | None = None
    change: Change = "started"
    name: str = ""

    def line(self) -> str:
        """``fetched 12/40 formulas, 1.3 MB received, exporting org/nginx-formula v1.1.0``."""
        text = f"fetched {self.fetched}/{self.known} formulas, {_size(self.received_bytes)} received"
        return f"{text}, exporting {self.exporting}" if self.exporting else text

    def as_event(self) -> dict[str, object]:
        """Plain data for a Salt progress event."""
        return {"fetched": self.fetched, "known": self.known, "received_bytes": self.received_bytes, "exporting": self.exporting}


class RunProgress:
    """Totals of one run; ``show`` gets a snapshot after every change."""

    def __init__(self, show: Callable[[Counts], None]) -> None:
        self._show = show
        self._counts = Counts()
        self._received: dict[str, int] = {}
        self._lock = threading.Lock()

    def fetch_started(self, name: str) -> None:
        with self._lock:
            self._publish("started", name, known=self._counts.known + 1)

    def received(self, name: str, received_bytes: int) -> None:
        """The bytes one transfer has received so far (libgit2 reports a running total per fetch)."""
        with self._lock:
            self._received[name] = received_bytes
            total = sum(self._received.values())
            if total != self._counts.received_bytes:
                self._publish("received", name, received_bytes=total)

    def fetch_done(self, name: str) -> None:
        with self._lock:
            self._publish("fetched", name, fetched=self._counts.fetched + 1)

    def exporting(self, label: str) -> None:
        with self._lock:
            self._publish("exporting", label, exporting=label)

    @property
    def counts(self) -> Counts:
        return self._counts

    def _publish(self, change: Change, name: str, **fields: int | str) -> None:
        """Record a change and show it; the caller holds the lock, so ``show`` runs one call at a time."""
        self._counts = replace(self._counts, change=change, name=name, **fields)  # type: ignore[arg-type]
        self._show(self._counts)


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"
