"""Which formula the resolver pins next: its preference, and the narrowing that avoids ranking them all.

A formula is pinned before what it needs (its depth from the project, as pip
does): a conflict between two formulas' needs then surfaces while those formulas
are the newest pins, which is where backjumping looks first, instead of after
their children were pinned. Before depth come a cause of the last conflict, then
a formula asked for by branch or commit, then one that can only conflict
(fail_first).

The order of one formula's requirement entries matters too (requirement_sort_key).
"""
from __future__ import annotations

from typing import Collection, Iterable

from .manifest import Requirement

Preference = tuple[bool, bool, bool, int, str]


class PinOrder:
    """Depths and branch-or-commit requests seen so far; both grow as manifests are read."""

    def __init__(self) -> None:
        self._depths: dict[str, int] = {}  # formula -> its least depth seen so far (the project's own: 1)
        self._ranks = _Ranks()  # formula -> (depth, name), the order among the rest
        self._asked_by_ref: set[str] = set()  # formulas some requirement seen so far pins to a branch or commit

    def note(self, name: str, parent: str | None, by_ref: bool) -> None:
        """``parent`` (None for the project) asks for ``name``, by branch or commit when ``by_ref``."""
        depth = self.depth(parent) + 1 if parent is not None else 1
        self._depths[name] = min(depth, self._depths.get(name, depth))
        self._ranks[name] = (self._depths[name], name)
        if by_ref:
            self._asked_by_ref.add(name)

    def depth(self, name: str) -> int:
        return self._depths.get(name, 1)

    def preference(self, name: str, in_causes: bool, by_ref: bool, doomed: bool = False) -> Preference:
        """resolvelib's sort key: the least is pinned first."""
        return (not in_causes, not by_ref, not doomed, self.depth(name), name)

    def narrow(self, names: Iterable[str], causes: set[str], doomed: Collection[str] = ()) -> list[str]:
        """The names whose preference may be the least, found without computing them all.

        resolvelib ranks every unpinned formula in every round, which grows with the square of
        the graph. Keep the causes if any are left, then every formula ever asked for by branch
        or commit (a superset of those asked so now), the ``doomed``, and the least deep of the rest.
        """
        every = list(names)
        chosen = [name for name in every if name in causes] or every
        kept = [name for name in chosen if name in self._asked_by_ref or name in doomed]
        rest = [name for name in chosen if name not in self._asked_by_ref and name not in doomed]
        if rest:
            kept.append(min(rest, key=self._ranks.__getitem__))  # no Python call per name: this runs every round
        return kept


class _Ranks(dict[str, tuple[int, str]]):
    def __missing__(self, name: str) -> tuple[int, str]:
        return (1, name)  # never noted: as deep as the project's own


def requirement_sort_key(requirement: Requirement) -> tuple[str, bool, bool, bool, str, str]:
    # resolvelib looks a formula up as each entry of a list is added, so the entries that
    # widen what can be picked come first: one naming a source (else the default source is
    # searched alone), a branch or commit pin (else tags are), one naming a prerelease.
    constraint = requirement.constraint
    return (
        requirement.name,
        requirement.source is None,
        constraint.kind not in ("branch", "rev"),
        not constraint.names_prerelease,
        str(constraint),
        requirement.source or "",
    )
