"""Every use of resolvelib beyond its public ``Resolver``: one module, so an upgrade is checked in one place.

Checked against resolvelib 1.2.1 (the declared minimum, run by .ci/run's
minimum-versions suite) and the release pinned in .ci/constraints.txt (the main
suite). What is used: ``resolvers.Resolution`` (to keep the pins that hang from
the root without resolvelib's recursive walk, and to make its rounds cheaper:
``_push_new_state``, ``_is_current_pin_satisfying``, ``state`` and ``_states``,
with ``resolution.State``), ``resolvers.Result`` and
``resolvers.criterion.Criterion`` (the fast path builds resolvelib's own result),
and ``structs`` (the graph and the requirement information).
"""
from __future__ import annotations

from typing import Any, Callable

import resolvelib
from resolvelib.resolvers import Result
from resolvelib.resolvers.criterion import Criterion
from resolvelib.resolvers.resolution import State
from resolvelib.structs import DirectedGraph, RequirementInformation

__all__ = ["Criterion", "DirectedGraph", "RequirementInformation", "Result", "run"]


class _Budget(resolvelib.BaseReporter):
    """Stops the search after ``extra`` rounds beyond one per formula seen (``formulas()``)."""

    def __init__(self, extra: int, formulas: Callable[[], int]) -> None:
        self.extra, self.formulas = extra, formulas

    def starting_round(self, index: int) -> None:
        if index >= self.extra + self.formulas():
            raise resolvelib.ResolutionTooDeep(index)


class _Resolution(resolvelib.resolvers.Resolution):
    """resolvelib's Resolution with its per-round check of every pin made a lookup.

    Each round resolvelib asks, for every formula, whether its pin satisfies all that is asked of
    it: a thousand formulas over a thousand rounds is a million checks, nearly all repeated. A
    criterion (what is asked of one formula) is never changed once built, only replaced, so the
    answer is kept per criterion (compared by identity) with the pin it was given for.
    """

    def __init__(self, provider: Any, reporter: Any) -> None:
        super().__init__(provider, reporter)
        self._answers: dict[Any, tuple[Any, bool]] = {}

    def _push_new_state(self) -> None:
        # resolvelib keeps a copy of the pins for every round it may backjump to, as an OrderedDict: a
        # node per pin on top of the table. A dict keeps insertion order and pops the newest pin too
        # (all resolvelib asks of it), in about half the memory.
        base = self._states[-1]
        self._states.append(State(mapping=dict(base.mapping), criteria=base.criteria.copy(), backtrack_causes=base.backtrack_causes[:]))

    def _is_current_pin_satisfying(self, name: Any, criterion: Any) -> bool:
        pin = self.state.mapping.get(name)
        if pin is None:
            return False
        known = self._answers.get(criterion)
        if known is None or known[0] is not pin:
            known = self._answers[criterion] = (pin, super()._is_current_pin_satisfying(name, criterion))
        return known[1]


def run(provider: Any, roots: list[Any], max_rounds: int, formulas: Callable[[], int] = lambda: 0, most_formulas: int = 0) -> Result:
    """resolvelib's Resolver.resolve, but the result keeps the pins that hang from the root
    without recursion: resolvelib's own walk recurses forever (RecursionError) on a cycle of
    pins that no longer hangs from the root, as a replaced pin can leave behind.

    The search may take ``max_rounds`` rounds beyond one per formula (``formulas()``, at most
    ``most_formulas``). resolvelib itself is given ten times that: its optimistic backjumping gives
    up after a tenth of the rounds left when it starts, and a big graph needs more than that just
    to pin every formula once; falling back to plain backjumping then costs far more rounds.
    """
    reporter = _Budget(max_rounds, formulas)
    resolution = _Resolution(provider, reporter)
    state = resolution.resolve(roots, max_rounds=10 * (max_rounds + most_formulas) + 1)
    children: dict[Any, list[str]] = {}
    for name, criterion in state.criteria.items():
        for parent in criterion.iter_parent():
            children.setdefault(parent, []).append(name)
    mapping: dict[str, Any] = {}
    graph: DirectedGraph[str | None] = DirectedGraph()
    graph.add(None)
    stack: list[Any] = [None]
    while stack:
        parent = stack.pop()
        for name in children.get(parent, []):
            if name not in state.mapping:
                continue
            if name not in mapping:
                mapping[name] = state.mapping[name]
                stack.append(mapping[name])
                graph.add(name)
            graph.connect(parent.name if parent else None, name)
    return Result(mapping=mapping, graph=graph, criteria=state.criteria)
