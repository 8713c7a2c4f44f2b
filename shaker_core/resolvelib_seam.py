"""Every use of resolvelib beyond its public ``Resolver``: one module, so an upgrade is checked in one place.

Checked against resolvelib 1.2.1 (the declared minimum, run by .ci/run's
minimum-versions suite) and the release pinned in .ci/constraints.txt (the main
suite). What is used: ``resolvers.Resolution`` (to keep the pins that hang from
the root without resolvelib's recursive walk), ``resolvers.Result`` and
``resolvers.criterion.Criterion`` (the fast path builds resolvelib's own result),
and ``structs`` (the graph and the requirement information).
"""
from __future__ import annotations

from typing import Any

import resolvelib
from resolvelib.resolvers import Result
from resolvelib.resolvers.criterion import Criterion
from resolvelib.structs import DirectedGraph, RequirementInformation

__all__ = ["Criterion", "DirectedGraph", "RequirementInformation", "Result", "run"]


def run(provider: Any, roots: list[Any], max_rounds: int) -> Result:
    """resolvelib's Resolver.resolve, but the result keeps the pins that hang from the root
    without recursion: resolvelib's own walk recurses forever (RecursionError) on a cycle of
    pins that no longer hangs from the root, as a replaced pin can leave behind."""
    state = resolvelib.resolvers.Resolution(provider, resolvelib.BaseReporter()).resolve(roots, max_rounds=max_rounds)
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
