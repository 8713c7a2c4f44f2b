"""Hypothesis properties of resolve() over small random indexes.

- Whenever resolve() succeeds its pins are a valid answer (memindex.violations); whenever
  it fails it raises a ResolutionError.
- When it fails, a brute-force search finds no valid answer either. This is checked on
  "monotone" indexes only, where adding a constraint can only narrow the refs a formula
  may take. A constraint naming a prerelease or a branch widens them, and so does a
  source named by a dependency: a plain entry met first may have no candidate until such
  a constraint arrives, so whether an answer is found depends on the order of the search.
- The answer does not depend on entry order, and preferring it (a conservative update)
  gives it again.
"""
from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from memindex import (
    MemIndex,
    check_resolution,
    commit_of,
    effective_constraints,
    identity,
    pin_satisfies,
    project,
    requirements_on,
    violations,
)

from shaker_core.errors import LimitExceeded, ResolutionError
from shaker_core.resolver import Pin, resolve

FORMULAS = ["org/f0-formula", "org/f1-formula", "org/f2-formula", "org/f3-formula"]
MIRROR = "https://mirror.example.com/org/f0-formula.git"  # a second home of f0, named by URL
STABLE_TAGS = ["v1.0.0", "v1.1.0", "v1.10.0", "v2.0.0", "v10.0.0", "1.5", "vjunk"]
PRERELEASE_TAGS = ["v2.0.0-rc1", "v1.1.0-rc1"]
PLAIN_CONSTRAINTS = ["", "", "", ">=v1.1.0", "<v2.0.0", "<=v1.10.0", "==v1.0.0", "!=v2.0.0", ">=v1.0,<v10", "==v1.*", ">v1.0.0"]
WIDENING_CONSTRAINTS = ["==v2.0.0-rc1", ">=v1.1.0-rc1", "==develop"]
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def worlds(tags: list[str], constraints: list[str], with_branches: bool, mirror_in_deps: bool = True) -> st.SearchStrategy:
    """(index spec, project dependencies, project overrides) drawn from these tags and constraints.

    f0 has no dependencies and its mirror holds the same tags, so which source it comes
    from cannot change the graph or whether an answer exists; only which source is right.
    """
    entry = st.builds(str.__add__, st.sampled_from(FORMULAS + [MIRROR]), st.sampled_from(constraints))
    dependency = entry if mirror_in_deps else st.builds(str.__add__, st.sampled_from(FORMULAS), st.sampled_from(constraints))

    def repository(with_deps: bool) -> st.SearchStrategy:
        deps = st.lists(dependency, min_size=1, max_size=3) if with_deps else st.just([])
        branches = st.dictionaries(st.just("develop"), deps, max_size=1) if with_branches else st.just({})
        return st.fixed_dictionaries({"tags": st.dictionaries(st.sampled_from(tags), deps, min_size=2, max_size=4), "branches": branches})

    spec = st.fixed_dictionaries({source: repository(source != FORMULAS[0]) for source in FORMULAS})
    spec = spec.map(lambda found: {**found, MIRROR: found[FORMULAS[0]]})
    overrides = st.lists(st.builds(str.__add__, st.sampled_from(FORMULAS), st.sampled_from(constraints)), max_size=1)
    request = st.builds(str.__add__, st.sampled_from(FORMULAS[1:] * 2 + [FORMULAS[0], MIRROR]), st.sampled_from(constraints))
    return st.tuples(spec, st.lists(request, min_size=1, max_size=4), overrides)


ANY_WORLD = worlds(STABLE_TAGS + PRERELEASE_TAGS, PLAIN_CONSTRAINTS + WIDENING_CONSTRAINTS, with_branches=True)
# Nothing can widen a formula's choice: prerelease tags and branches exist but no constraint
# names one, or constraints name them but there are none; only the project names the mirror.
MONOTONE_WORLD = worlds(STABLE_TAGS + PRERELEASE_TAGS, PLAIN_CONSTRAINTS, with_branches=True, mirror_in_deps=False) | worlds(
    STABLE_TAGS, PLAIN_CONSTRAINTS + WIDENING_CONSTRAINTS, with_branches=False, mirror_in_deps=False
)


def attempt(root, index, **kwargs):
    """resolve(), with a ResolutionError returned instead of raised (any other error fails the test)."""
    try:
        result = resolve(root, index, identity, **kwargs)
        event(f"resolved {len(result.pins)} formulas")
    except ResolutionError as exc:
        event(type(exc).__name__)
        return exc
    return result


def options(index: MemIndex, name: str) -> list[Pin]:
    """Every ref a formula could be pinned to, from every source it has."""
    found = []
    for source in [name] + ([MIRROR] if name == FORMULAS[0] else []):
        found += [Pin(name=name, ref=ref, kind="tag", commit=commit, source=source) for ref, commit in index.versions(source).items()]
        found += [Pin(name=name, ref=ref, kind="branch", commit=commit, source=source) for ref, commit in index.branches(source).items()]
    return found


def offered(pin: Pin, constraints: list) -> bool:
    """Whether the resolver could offer this ref for the constraints known so far."""
    kinds = {c.kind for c in constraints} - {"any"}
    if (pin.kind == "tag" and kinds - {"version"}) or (pin.kind != "tag" and kinds != {pin.kind}):
        return False
    prereleases = any(c.names_prerelease for c in constraints)
    return all(pin_satisfies(pin, c, prereleases) for c in constraints)


def valid_answers(root, index: MemIndex) -> list[dict[str, Pin]]:
    """Brute force: every valid answer reachable by pinning, in any order, a formula already
    named to a ref it could be offered at that point."""
    seen: set[frozenset] = set()
    answers: list[dict[str, Pin]] = []

    def visit(pins: dict[str, Pin]) -> None:
        key = frozenset(pins.items())
        if key in seen:
            return
        seen.add(key)
        asked = requirements_on(pins, root, index)
        constraints = {name: effective_constraints(root, name, asked[name]) for name in asked}
        if not all(pin_satisfies(pin, c, True) for name, pin in pins.items() for c in constraints[name]):
            return  # constraints only accumulate: this pin set can never become valid
        open_names = sorted(set(asked) - set(pins))
        if not open_names and not violations(pins, root, index):
            answers.append(pins)
        for name in open_names:
            for pin in options(index, name):
                if offered(pin, constraints[name]):
                    visit({**pins, name: pin})

    visit({})
    return answers


@SETTINGS
@given(ANY_WORLD)
def test_success_is_valid_and_failure_is_a_resolution_error(world):
    spec, request, overrides = world
    root, index = project(request, overrides), MemIndex(spec)
    result = attempt(root, index)
    if isinstance(result, ResolutionError):
        assert not isinstance(result, LimitExceeded), str(result)
        assert str(result)
    else:
        check_resolution(result, root, index)


@SETTINGS
@given(MONOTONE_WORLD)
def test_failure_means_there_is_no_answer(world):
    spec, request, overrides = world
    root, index = project(request, overrides), MemIndex(spec)
    result = attempt(root, index)
    if isinstance(result, ResolutionError):
        answers = valid_answers(root, index)
        assert answers == [], f"resolve() said {result!s} but {answers[0]} is valid"
    else:
        check_resolution(result, root, index)


@SETTINGS
@given(ANY_WORLD, st.randoms(use_true_random=False))
def test_answer_is_stable(world, rng):
    """The same answer (or error) for the entries in another order, and when preferred."""
    spec, request, overrides = world
    first = attempt(project(request, overrides), MemIndex(spec))
    shuffled = list(request)
    rng.shuffle(shuffled)
    again = attempt(project(shuffled, overrides), MemIndex(spec))
    if isinstance(first, ResolutionError):
        assert (type(again), str(again)) == (type(first), str(first))
    else:
        assert again.pins == first.pins
        preferred = {name: pin.ref for name, pin in first.pins.items()}
        assert attempt(project(request, overrides), MemIndex(spec), preferred=preferred).pins == first.pins


def test_brute_force_oracle():
    """The oracle itself: it finds the one answer of a small graph and rejects a bad one."""
    index = MemIndex({"org/f0-formula": {"tags": {"v1.0.0": ["org/f1-formula<v2"], "v2.0.0": ["org/f1-formula>=v2"]}},
                      "org/f1-formula": {"tags": {"v1.0.0": []}}})
    root = project(["org/f0-formula"])
    answers = valid_answers(root, index)
    assert [{name: pin.ref for name, pin in pins.items()} for pins in answers] == [{"org/f0-formula": "v1.0.0", "org/f1-formula": "v1.0.0"}]

    def pin(name: str, ref: str) -> Pin:
        return Pin(name=name, ref=ref, kind="tag", commit=commit_of(name, ref), source=name)

    wrong = {"org/f0-formula": pin("org/f0-formula", "v2.0.0"), "org/f1-formula": pin("org/f1-formula", "v1.0.0")}
    assert violations(wrong, root, index) == ["org/f1-formula v1.0.0 breaks '>=v2'"]
    assert violations({"org/f0-formula": pin("org/f0-formula", "v1.0.0")}, root, index) == [
        "pins ['org/f0-formula'] but the graph names ['org/f0-formula', 'org/f1-formula']"
    ]


@SETTINGS
@given(ANY_WORLD)
def test_fast_path_gives_resolvelibs_answer(world):
    """The conflict-free fast path returns exactly what resolvelib alone returns (pins, edges, warnings)."""
    spec, request, overrides = world
    fast = attempt(project(request, overrides), MemIndex(spec))
    slow = attempt(project(request, overrides), MemIndex(spec), fast_path=False)
    if isinstance(slow, ResolutionError):
        assert (type(fast), str(fast)) == (type(slow), str(slow))
    else:
        assert fast.pins == slow.pins
        assert sorted(map(str, fast.edges)) == sorted(map(str, slow.edges))
        assert fast.warnings == slow.warnings
