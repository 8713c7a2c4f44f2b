"""Fail first: once the search has met a conflict, pin next a formula whose every candidate must conflict.

A formula T whose newest release needs more of H than H's other parents allow
conflicts only when one of those parents is pinned. In name order that can be
hundreds of pins after T, and resolvelib's backjump to T then discards and redoes
every pin made in between: the rounds grow with the square of the graph. A
parent that can no longer be pinned at all (each of its candidates needs of some
formula what no candidate left for it allows) is pinned at once instead, so the
conflict surfaces while T is the newest pin and the backjump is one step.

Only a choice of order: the search still checks every pin. It waits for the
first conflict so that a graph the conflict-free fast path can walk is walked the
same way by resolvelib (the fast path gives up at exactly that point).
"""
from __future__ import annotations

from typing import Callable, Collection, Hashable, Iterable


class FailFirst:
    """Who needs what (by each formula's first candidate), and which formulas to look at again."""

    def __init__(self) -> None:
        self.armed = False  # set at the first conflict the search meets
        self._first: dict[str, Hashable] = {}  # formula -> the first candidate whose needs are watched
        self._needed_by: dict[str, set[str]] = {}  # formula -> formulas whose first candidate needs it
        self._suspects: set[str] = set()

    def watch(self, name: str, first: Hashable, needs: Callable[[], Iterable[str]]) -> None:
        """Record what ``name``'s first candidate ``first`` needs, once per first candidate."""
        if self._first.get(name) == first:
            return
        self._first[name] = first
        for needed in needs():
            self._needed_by.setdefault(needed, set()).add(name)

    def asked(self, names: Iterable[str]) -> None:
        """A pin just asked for ``names``: those who need them too may have lost their last candidate."""
        if self.armed:
            for name in names:
                self._suspects |= self._needed_by.get(name, set())

    def doomed(self, unpinned: Collection[str], is_doomed: Callable[[str], bool]) -> set[str]:
        """The unpinned suspects that ``is_doomed``; the others are cleared until something they need is asked for again."""
        found = set()
        for name in sorted(self._suspects):
            if name in unpinned and is_doomed(name):
                found.add(name)
            else:
                self._suspects.discard(name)
        return found
