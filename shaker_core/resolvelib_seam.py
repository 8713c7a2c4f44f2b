"""Every use of resolvelib beyond its public ``Resolver``: one module, so an upgrade is checked in one place.

Checked against resolvelib 1.2.1 (the declared minimum, run by .ci/run's
minimum-versions suite) and the release pinned in .ci/constraints.txt (the main
suite). What is used: ``resolvers.Resolution`` (to keep the pins that hang from
the root without resolvelib's recursive walk, and to make its rounds cheaper:
its round loop ``resolve``, ``_push_new_state``, ``_is_current_pin_satisfying``,
``_patch_criteria``, ``_add_to_criteria``, ``_save_state`` (past states are kept
frozen, search_states.py), and the steps the loop takes:
``_attempt_to_pin_criterion``, ``_backjump``, ``_extract_causes``,
``_remove_information_from_criteria``, ``_get_preference``, ``_rollback_states``
with ``_optimistic_backjumping_ratio`` and ``_save_states``, ``state`` and
``_states``, with ``resolution.State`` and ``structs.IteratorMapping``), ``resolvers.Result`` and
``resolvers.criterion.Criterion`` (the fast path builds resolvelib's own result),
and ``structs`` (the graph and the requirement information).
"""
from __future__ import annotations

import operator
from typing import Any, Callable, Iterable

import resolvelib
from resolvelib.resolvers import RequirementsConflicted, ResolutionImpossible, Result
from resolvelib.resolvers.criterion import Criterion
from resolvelib.resolvers.resolution import State
from resolvelib.structs import DirectedGraph, IteratorMapping, RequirementInformation

from .search_states import FrozenState

__all__ = ["Criterion", "DirectedGraph", "RequirementInformation", "Result", "run"]


class _Budget(resolvelib.BaseReporter):
    """Stops the search after ``extra`` rounds beyond one per formula seen (``formulas()``)."""

    def __init__(self, extra: int, formulas: Callable[[], int]) -> None:
        self.extra, self.formulas = extra, formulas

    def starting_round(self, index: int) -> None:
        if index >= self.extra + self.formulas():
            raise resolvelib.ResolutionTooDeep(index)


class _Resolution(resolvelib.resolvers.Resolution):
    """resolvelib's Resolution, taking the same rounds to the same answer without re-checking every pin twice a round.

    Each round resolvelib asks, for every formula, whether its pin satisfies all that is asked of
    it, twice: three thousand formulas over three thousand rounds is eighteen million checks, nearly
    all repeated. Here the round loop keeps the unsatisfied names up to date instead: a round that
    pins a formula changes only what that pin asks for, and after a backjump (rare) they are
    counted again. The check itself is kept per criterion (a criterion is never changed once built,
    only replaced, so it is compared by identity) with the pin it was given for. Past states are
    kept as each round's change (search_states.py), not as a copy of every pin per round.

    resolvelib offers the unsatisfied names in the order of its criteria; here they come in another
    (deterministic) order, which is the same search because the provider's choice depends on the
    names alone, never on their order (resolver.py's narrowing and its preferences, which tie never).
    """

    def __init__(self, provider: Any, reporter: Any) -> None:
        super().__init__(provider, reporter)
        self._answers: dict[Any, tuple[Any, bool]] = {}
        self._unsatisfied: dict[Any, None] | None = None  # None: count them again from the criteria
        self._asked: set[Any] = set()  # the names the current pin attempt asked for
        self._top_replaced = False  # the top is not its base plus one round's change (after a backjump or a roll back)

    def resolve(self, requirements: Iterable[Any], max_rounds: int) -> Any:
        if self._states:
            raise RuntimeError("already resolved")
        self._r.starting()
        self._start(requirements)
        clock = _OptimisticClock()
        for round_index in range(max_rounds):
            self._r.starting_round(index=round_index)
            if self._optimistic_backjumping_ratio and self._save_states is not None and clock.expired(round_index, max_rounds, self._optimistic_backjumping_ratio):
                self._roll_back()
                continue
            unsatisfied = self._unsatisfied_names()
            if not unsatisfied:
                self._r.ending(state=self.state)
                return self.state
            self._round(unsatisfied)
            self._r.ending_round(index=round_index, state=self.state)
        raise resolvelib.ResolutionTooDeep(max_rounds)

    def _start(self, requirements: Iterable[Any]) -> None:
        self._states = [State(mapping={}, criteria={}, backtrack_causes=[])]
        for requirement in requirements:
            try:
                self._add_to_criteria(self.state.criteria, requirement, parent=None)
            except RequirementsConflicted as exc:
                raise ResolutionImpossible(exc.criterion.information) from exc
        self._push_new_state()  # the root state stays below, so the first pin has something to backjump to

    def _unsatisfied_names(self) -> dict[Any, None]:
        if self._unsatisfied is None:
            self._unsatisfied = {name: None for name, criterion in self.state.criteria.items() if not self._is_current_pin_satisfying(name, criterion)}
        return self._unsatisfied

    def _round(self, unsatisfied: dict[Any, None]) -> None:
        name = self._choose(list(unsatisfied))
        self._asked = set()
        failure = self._attempt_to_pin_criterion(name)
        if failure:
            self._unsatisfied, self._top_replaced = None, True
            self._conflict(self._extract_causes(failure))
            return
        criteria = self.state.criteria
        asked = [key for key in self._asked | {name} if key in criteria]
        # pins that were satisfied and no longer are stop counting as the source of what they ask for
        invalidated = {key for key in asked if key != name and key in self.state.mapping and key not in unsatisfied
                       and not self._is_current_pin_satisfying(key, criteria[key])}
        self._remove_information_from_criteria(criteria, invalidated)
        self._push_new_state()
        self._freeze_last_round(name, asked, whole=self._top_replaced or bool(invalidated))
        self._top_replaced = False
        if invalidated:
            self._unsatisfied = None
            return
        for key in asked:
            if self._is_current_pin_satisfying(key, criteria[key]):
                unsatisfied.pop(key, None)
            else:
                unsatisfied[key] = None

    def _choose(self, names: list[Any]) -> Any:
        if len(names) > 1:
            names = list(self._p.narrow_requirement_selection(
                identifiers=names,
                resolutions=self.state.mapping,
                candidates=IteratorMapping(self.state.criteria, operator.attrgetter("candidates")),
                information=IteratorMapping(self.state.criteria, operator.attrgetter("information")),
                backtrack_causes=self.state.backtrack_causes,
            ))
        if not names:
            raise RuntimeError("narrow_requirement_selection returned 0 names")
        return min(names, key=self._get_preference) if len(names) > 1 else names[0]

    def _conflict(self, causes: list[Any]) -> None:
        """Backjump; when optimistic backjumping finds no way out, go back to where it began and backjump plainly from there."""
        self._r.resolving_conflicts(causes=causes)
        try:
            success = self._backjump(causes)
        except ResolutionImpossible:
            if not (self._optimistic_backjumping_ratio and self._save_states):  # read after: the backjump may save them
                raise
            success = False
        if not success and self._optimistic_backjumping_ratio and self._save_states:
            self._roll_back()
            return
        self.state.backtrack_causes[:] = causes
        if not success:
            raise ResolutionImpossible(self.state.backtrack_causes)

    def _add_to_criteria(self, criteria: Any, requirement: Any, parent: Any) -> None:
        self._asked.add(self._p.identify(requirement_or_candidate=requirement))
        super()._add_to_criteria(criteria, requirement, parent)

    def _push_new_state(self) -> None:
        # the pins as a dict, not resolvelib's OrderedDict: it keeps insertion order and pops the newest pin
        # too (all resolvelib asks of it), in half the memory. A frozen base rebuilds fresh dicts.
        base = self._states[-1]
        mapping, criteria = base.rebuild() if isinstance(base, FrozenState) else (dict(base.mapping), base.criteria.copy())
        self._states.append(State(mapping=mapping, criteria=criteria, backtrack_causes=base.backtrack_causes[:]))

    def _freeze_last_round(self, name: Any, asked: list[Any], whole: bool) -> None:
        """Keep the state the round just finished (below the new top) as its change over the state below it."""
        done = self._states[-2]
        below = self._states[-3] if len(self._states) >= 3 else None
        frozen = FrozenState.of(done, below, (name, done.mapping[name]), {key: done.criteria[key] for key in asked}, whole)
        self._states[-2] = frozen  # type: ignore[call-overload]  # a State to every reader: mapping, criteria, backtrack_causes

    def _save_state(self) -> None:
        # resolvelib copies every state before an optimistic backjump; a frozen one's copy shares what it is rebuilt from
        if self._save_states is None:
            self._save_states = [state.copy() if isinstance(state, FrozenState) else
                                 State(mapping=dict(state.mapping), criteria=state.criteria.copy(), backtrack_causes=state.backtrack_causes[:])
                                 for state in self._states]

    def _roll_back(self) -> None:
        """Back to the states saved before optimistic backjumping; the top is worked on in place, so it is a real one."""
        self._rollback_states()
        top = self._states[-1]
        if isinstance(top, FrozenState):
            mapping, criteria = top.rebuild()
            self._states[-1] = State(mapping=mapping, criteria=criteria, backtrack_causes=top.backtrack_causes[:])
        self._unsatisfied, self._top_replaced = None, True

    def _patch_criteria(self, incompatibilities_from_broken: list[tuple[Any, list[Any]]]) -> bool:
        # resolvelib 1.2.1 adds the broken state's incompatibilities to the criterion's own, which already hold them when
        # the criterion is unchanged since that state: every backjump doubled the list (2**k copies of one candidate
        # after k backjumps, out of memory at the 30th). Carry over only those not known yet: the same candidates excluded.
        fresh = []
        for name, incompatibilities in incompatibilities_from_broken:
            criterion = self.state.criteria.get(name)
            known = set(criterion.incompatibilities) if criterion is not None else set()
            fresh.append((name, [candidate for candidate in dict.fromkeys(incompatibilities) if candidate not in known]))
        return bool(super()._patch_criteria(fresh))

    def _is_current_pin_satisfying(self, name: Any, criterion: Any) -> bool:
        pin = self.state.mapping.get(name)
        if pin is None:
            return False
        known = self._answers.get(criterion)
        if known is None or known[0] is not pin:
            known = self._answers[criterion] = (pin, super()._is_current_pin_satisfying(name, criterion))
        return known[1]


class _OptimisticClock:
    """When resolvelib's optimistic backjumping has run too long: ``ratio`` (a tenth) of the rounds left when it began."""

    def __init__(self) -> None:
        self.started: int | None = None
        self.cutoff: int | None = None

    def expired(self, round_index: int, max_rounds: int, ratio: float) -> bool:
        if self.started is None:
            self.started = round_index
            self.cutoff = int((max_rounds - round_index) * ratio)
            return self.cutoff <= 0
        return self.cutoff is not None and round_index - self.started >= self.cutoff


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
