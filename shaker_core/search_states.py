"""The search's past states, kept as what each round changed instead of as whole copies.

resolvelib keeps, for every round it may backjump to, a copy of every pin and of
what is asked of every formula: memory that grows with the square of the graph
(3,000 formulas: about 400 MB). A state below the top is read again only when a
backjump goes back to it, so it is kept as the change its round made (one pin,
the few formulas that pin asked for) over the state below it, with a whole copy
every ``SNAPSHOT_EVERY`` states so that rebuilding one never replays more than
that many rounds. ``mapping`` and ``criteria`` are rebuilt at the first read and
then kept, as resolvelib's own states are (a backjump pops the newest pin off the
state it pops, and then asks whether any pin is left); what they are rebuilt from
never changes, so a ``copy()`` of a frozen state costs nothing (resolvelib saves
the states before an optimistic backjump and may go back to them).
"""
from __future__ import annotations

from typing import Any, Mapping

SNAPSHOT_EVERY = 32


class FrozenState:
    """A past state: a whole copy, or one round's change over the state below."""

    __slots__ = ("_below", "_pin", "_changed", "_mapping", "_criteria", "backtrack_causes", "_replays", "_read")

    def __init__(self, below: Any, pin: tuple[Any, Any] | None, changed: Mapping[Any, Any], backtrack_causes: list[Any],
                 whole: tuple[dict[Any, Any], dict[Any, Any]] | None = None) -> None:
        self._below, self._pin, self._changed, self.backtrack_causes = below, pin, dict(changed), backtrack_causes
        self._mapping: dict[Any, Any] | None = whole[0] if whole is not None else None
        self._criteria: dict[Any, Any] | None = whole[1] if whole is not None else None
        self._replays = 0 if whole is not None else getattr(below, "_replays", 0) + 1
        self._read: tuple[dict[Any, Any], dict[Any, Any]] | None = None  # what mapping and criteria handed out

    @classmethod
    def of(cls, state: Any, below: Any, pin: tuple[Any, Any], changed: Mapping[Any, Any], whole: bool) -> FrozenState:
        """``state`` (the top, just replaced by a copy of it) frozen: as its round's ``pin`` and ``changed`` criteria over
        ``below``, or as a whole copy when ``whole`` (the round changed more than that) or the chain is long enough."""
        if whole or below is None or getattr(below, "_replays", 0) + 1 >= SNAPSHOT_EVERY:
            return cls(None, None, {}, state.backtrack_causes, (dict(state.mapping), dict(state.criteria)))
        return cls(below, pin, changed, state.backtrack_causes)

    def copy(self) -> FrozenState:
        """The same state, with nothing read from it yet."""
        whole = (self._mapping, self._criteria) if self._mapping is not None and self._criteria is not None else None
        return FrozenState(self._below, self._pin, self._changed, self.backtrack_causes, whole)

    @property
    def mapping(self) -> dict[Any, Any]:
        return self._handed_out()[0]

    @property
    def criteria(self) -> dict[Any, Any]:
        return self._handed_out()[1]

    def _handed_out(self) -> tuple[dict[Any, Any], dict[Any, Any]]:
        if self._read is None:
            self._read = self.rebuild()
        return self._read

    def rebuild(self) -> tuple[dict[Any, Any], dict[Any, Any]]:
        """Fresh copies of this state's pins (oldest first) and criteria."""
        chain: list[FrozenState] = []
        state: Any = self
        while isinstance(state, FrozenState) and state._mapping is None:
            chain.append(state)
            state = state._below
        # the bottom of the chain: a whole copy, or a real state that no round changes any more (resolvelib's root)
        whole = (state._mapping, state._criteria) if isinstance(state, FrozenState) else (state.mapping, state.criteria)
        mapping, criteria = dict(whole[0] or {}), dict(whole[1] or {})
        for frozen in reversed(chain):
            name, candidate = frozen._pin  # type: ignore[misc]
            mapping.pop(name, None)
            mapping[name] = candidate  # the newest pin last: backjumping pops it first
            criteria.update(frozen._changed)
        return mapping, criteria
