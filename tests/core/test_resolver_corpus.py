"""The resolver corpus: resolver_cases.yml, run case by case, then again in other entry orders."""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from memindex import MemIndex, check_resolution, commit_of, identity, project

from shaker_core import errors
from shaker_core.resolver import resolve

CORPUS = Path(__file__).with_name("resolver_cases.yml")
_TEMPLATE_RE = re.compile(r"\{(commit|short):([^@}]+)@([^}]+)\}")


def _expand(value: Any) -> Any:
    """Replace '{commit:<source>@<ref>}' and '{short:...}' (its first 8 hex digits) everywhere."""
    if isinstance(value, str):
        return _TEMPLATE_RE.sub(lambda m: commit_of(m[2], m[3])[: 8 if m[1] == "short" else 40], value)
    if isinstance(value, list):
        return [_expand(item) for item in value]
    if isinstance(value, dict):
        return {_expand(key): _expand(item) for key, item in value.items()}
    return value


def load_cases() -> list[dict[str, Any]]:
    return [_expand(case) for case in yaml.safe_load(CORPUS.read_text())]


CASES = load_cases()


def run(case: dict[str, Any], request: list[Any] | None = None, index: dict[str, Any] | None = None):
    """Resolve a case; return (the project manifest, the index, the Resolution or the exception)."""
    root = project(case["request"] if request is None else request, case.get("overrides"), case.get("formula"))
    mem = MemIndex(case["index"] if index is None else index)
    try:
        return root, mem, resolve(root, mem, identity, preferred=case.get("preferred"), **case.get("options", {}))
    except errors.ShakerError as exc:
        return root, mem, exc


def expected_pins(case: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    pins = {}
    for name, want in case["expect"].items():
        want = {"ref": want} if isinstance(want, str) else want
        pins[name] = (want["ref"], want.get("kind", "tag"), want.get("source", name))
    return pins


def edge_text(edge) -> str:
    parent = f"{edge.parent} {edge.parent_ref}" if edge.parent else "project"
    return f"{parent} -> {edge.requirement}"


def outcome(result: Any) -> Any:
    """What must not depend on entry order: the pins, or the error class and message."""
    if isinstance(result, Exception):
        return (type(result).__name__, str(result))
    return ({name: (pin.ref, pin.kind, pin.commit, pin.source) for name, pin in result.pins.items()}, result.warnings)


def shuffled_index(index: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The same index with formulas, refs and dependency lists in another order."""
    def shuffle_items(mapping: dict[str, Any]) -> dict[str, Any]:
        items = list(mapping.items())
        rng.shuffle(items)
        return dict(items)

    def shuffle_deps(deps: Any) -> Any:
        if isinstance(deps, list):
            deps = list(deps)
            rng.shuffle(deps)
        return deps

    result = {}
    for source, spec in shuffle_items(index).items():
        result[source] = {
            kind: shuffle_items({ref: shuffle_deps(deps) for ref, deps in refs.items()})
            for kind, refs in spec.items()
        }
    return result


def test_corpus_is_large_and_ids_are_unique():
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40
    for case in CASES:
        assert ("expect" in case) != ("conflict" in case), case["id"]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(case):
    root, mem, result = run(case)
    if "expect" in case:
        assert not isinstance(result, Exception), f"unexpected {type(result).__name__}: {result}"
        got = {name: (pin.ref, pin.kind, pin.source) for name, pin in result.pins.items()}
        assert got == expected_pins(case)
        assert result.warnings == case.get("warnings", [])
        if "edges" in case:
            assert sorted(map(edge_text, result.edges)) == case["edges"]
        check_resolution(result, root, mem)
    else:
        conflict = case["conflict"]
        assert isinstance(result, Exception), f"expected {conflict['error']}, got pins {result.pins}"
        assert type(result).__name__ == conflict["error"], str(result)
        message = str(result)
        if "message" in conflict:
            assert message == conflict["message"]
        for part in conflict.get("contains", []):
            assert part in message
        for part in conflict.get("excludes", []):
            assert part not in message


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_entry_order_does_not_matter(case):
    expected = outcome(run(case)[2])
    rng = random.Random(case["id"])
    orders = [list(reversed(case["request"]))]
    for _ in range(4):
        order = list(case["request"])
        rng.shuffle(order)
        orders.append(order)
    for order in orders:
        assert outcome(run(case, request=order, index=shuffled_index(case["index"], rng))[2]) == expected, order
