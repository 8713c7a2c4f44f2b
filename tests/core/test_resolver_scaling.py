"""The search's cost on graphs that force backtracking: what a conflict costs, and what a backjump keeps.

These are white-box checks of resolvelib_seam and fail_first next to the
property tests: the seam's round loop must take resolvelib's own rounds to
resolvelib's own answer (compared with resolvelib's unmodified Resolution, on
random graphs and on the benchmark forge's backtracking graph), and a conflict
must cost the same few rounds however many unrelated formulas are pinned
between its two sides. Rounds, not seconds: the budget ``max_rounds`` counts the
rounds beyond one per formula, so it fails the moment a conflict costs more.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import resolvelib
from hypothesis import given
from memindex import MemIndex, identity, project
from test_resolver_properties import ANY_WORLD, SETTINGS

from shaker_core import resolvelib_seam as seam
from shaker_core.errors import LimitExceeded, ShakerError
from shaker_core.resolver import _Provider, resolve

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import forge  # noqa: E402
from resolve import ForgeIndex  # noqa: E402  (the benchmark forge's graph, without git)


def tempting_graph(fillers: int) -> tuple[dict, list[str]]:
    """A project whose ``b`` formula's newest release needs ``h>=v2``, which ``x`` (pinned after ``fillers`` others) forbids.

    ``a``'s newest release needs of ``g`` what ``0`` forbids, so the search meets a conflict (one that
    needs no backjump) before it pins ``b``.
    """
    spec = {
        "org/0-formula": {"tags": {"v1": ["org/g-formula<v2"]}},
        "org/a-formula": {"tags": {"v1": [], "v2": ["org/g-formula>=v2"]}},
        "org/b-formula": {"tags": {"v1": [], "v2": ["org/h-formula>=v2"]}},
        "org/g-formula": {"tags": {"v1": [], "v2": []}},
        "org/h-formula": {"tags": {"v1": [], "v2": []}},
        "org/x-formula": {"tags": {"v1": ["org/h-formula<v2"], "v2": ["org/h-formula<v2"]}},
    }
    spec.update({f"org/c{i:03}-formula": {"tags": {"v1": []}} for i in range(fillers)})
    return spec, sorted(spec.keys() - {"org/g-formula", "org/h-formula"})


@pytest.mark.parametrize("fillers", [3, 120])
def test_a_conflict_costs_the_same_rounds_however_many_formulas_sit_between_its_sides(fillers):
    spec, request = tempting_graph(fillers)
    result = resolve(project(request), MemIndex(spec), identity, max_rounds=8)
    refs = {name: pin.ref for name, pin in result.pins.items()}
    assert (refs["org/a-formula"], refs["org/b-formula"], refs["org/h-formula"], refs["org/x-formula"]) == ("v1", "v1", "v1", "v2")
    assert len(refs) == len(spec)


def test_without_the_fail_first_order_the_same_conflict_costs_a_round_per_formula_in_between(monkeypatch):
    """The control for the test above: the budget of 8 rounds is what fail-first saves, not a loose limit."""
    monkeypatch.setattr("shaker_core.fail_first.FailFirst.doomed", lambda self, unpinned, is_doomed: set())
    spec, request = tempting_graph(120)
    with pytest.raises(LimitExceeded):
        resolve(project(request), MemIndex(spec), identity, max_rounds=8)


def search(spec: dict | None, request: list[str], resolution: type, index=None) -> tuple[list, dict] | str:
    """The state a Resolution class ends in (pin order, and who asks what of each formula), or its error."""
    provider = _Provider(project(request), index or MemIndex(spec), identity, {}, 5000).fresh()
    roots = provider.root_requirements()
    try:
        state = resolution(provider, resolvelib.BaseReporter()).resolve(roots, max_rounds=500_000)
    except (resolvelib.resolvers.ResolverException, ShakerError) as exc:
        return f"{type(exc).__name__}: {exc}"
    asked = {name: [(str(i.requirement), str(i.parent)) for i in criterion.information] for name, criterion in state.criteria.items()}
    return [(name, str(candidate)) for name, candidate in state.mapping.items()], asked


@SETTINGS
@given(ANY_WORLD)
def test_the_round_loop_takes_resolvelibs_rounds_to_resolvelibs_answer(world):
    spec, request, _ = world
    assert search(spec, request, seam._Resolution) == search(spec, request, resolvelib.resolvers.Resolution)


@pytest.mark.parametrize("formulas", [120, 400])
def test_the_round_loop_matches_resolvelib_on_the_backtracking_forge(formulas):
    index = ForgeIndex(formulas, 5, "backtrack")
    roots = [f"{forge.ORG}/f{i}-formula" for i in range(formulas) if forge._level(i, formulas) == 0]
    ours = search(None, roots, seam._Resolution, index)
    assert ours == search(None, roots, resolvelib.resolvers.Resolution, index)
    assert len(ours[0]) == formulas


def test_backjumps_keep_one_copy_of_each_incompatibility():
    """resolvelib 1.2.1 doubled a criterion's incompatibilities at every backjump (2**k copies after k of them)."""
    formulas = 600
    index = ForgeIndex(formulas, 5, "backtrack")
    roots = [f"{forge.ORG}/f{i}-formula" for i in range(formulas) if forge._level(i, formulas) == 0]
    provider = _Provider(project(roots), index, identity, {}, 5000).fresh()
    resolution = seam._Resolution(provider, resolvelib.BaseReporter())
    backjumps = []
    backjump = resolution._backjump
    resolution._backjump = lambda causes: backjumps.append(causes) or backjump(causes)
    state = resolution.resolve(provider.root_requirements(), max_rounds=100_000)
    assert len(backjumps) >= 10
    marked = [criterion.incompatibilities for criterion in state.criteria.values() if criterion.incompatibilities]
    assert marked
    assert all(len(found) == len(set(found)) for found in marked)
