"""resolvelib's walk without its quadratic rounds, for graphs where nothing ever conflicts.

resolvelib re-checks every pin against every requirement in every round, so
1,000 formulas cost a million checks even when no choice is ever revisited.
This module takes the very steps resolvelib would take (same provider, same
pick order, same candidate order) while keeping only what changes, and gives
up (returns None) at the first step where resolvelib would do anything else: a
requirement no candidate satisfies, or a new requirement that an existing pin
does not satisfy. The caller then runs resolvelib itself, so the answer is
always resolvelib's answer.
"""
from __future__ import annotations

import heapq
from typing import Any

from .resolvelib_seam import Criterion, DirectedGraph, RequirementInformation, Result


class _GiveUp(Exception):
    pass


def resolve_without_conflicts(provider: Any, roots: list[Any]) -> Result | None:
    """resolvelib's result when no step needs backtracking or re-pinning; None otherwise.

    It takes one round per formula, which the rounds limit (``max_resolution_rounds``
    counts the rounds beyond those) never refuses.
    """
    walk = _Walk(provider)
    try:
        for requirement in roots:
            walk.add(requirement, None)
        walk.run()
    except _GiveUp:
        return None
    criteria = {name: Criterion(walk.candidates[name], info, []) for name, info in walk.information.items()}
    graph: DirectedGraph[str | None] = DirectedGraph()
    return Result(mapping=walk.pins, graph=graph, criteria=criteria)


class _Walk:
    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.information: dict[str, list[RequirementInformation]] = {}
        self.candidates: dict[str, list[Any]] = {}
        self.pins: dict[str, Any] = {}
        self.queue: list[tuple[Any, str]] = []

    def add(self, requirement: Any, parent: Any) -> None:
        """Merge one requirement as resolvelib's _add_to_criteria does."""
        name = self.provider.identify(requirement)
        information = [*self.information.get(name, []), RequirementInformation(requirement, parent)]
        matches = list(self.provider.find_matches(
            identifier=name,
            requirements={name: iter([info.requirement for info in information])},
            incompatibilities={name: iter(())},
        ))
        if not matches:
            raise _GiveUp
        pin = self.pins.get(name)
        if pin is not None and not self.provider.is_satisfied_by(requirement=requirement, candidate=pin):
            raise _GiveUp
        self.information[name] = information
        self.candidates[name] = matches
        if pin is None:
            heapq.heappush(self.queue, (self._preference(name), name))

    def _preference(self, name: str) -> Any:
        return self.provider.get_preference(
            identifier=name,
            resolutions=self.pins,
            candidates={},
            information={name: iter(self.information[name])},
            backtrack_causes=[],
        )

    def run(self) -> None:
        """Pin the most preferred unpinned formula until none is left."""
        while self.queue:
            preference, name = heapq.heappop(self.queue)
            if name in self.pins or preference != self._preference(name):
                continue  # pinned already, or queued again with a newer preference
            candidate = self.candidates[name][0]
            self.pins[name] = candidate
            for requirement in self.provider.get_dependencies(candidate=candidate):
                self.add(requirement, candidate)
