"""Explain a resolution: why a formula is there, the dependency graph, what is outdated. Pure."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping

from .conflicts import ROOT_LABEL
from .lockfile import LockFile
from .reports import OutdatedRow
from .resolver import Resolution
from .versions import version_tags

MAX_CHAINS = 100


def _children(resolution: Resolution) -> dict[str | None, list[tuple[str, str]]]:
    """parent (None: the project) -> [(child, constraint text)], sorted."""
    children: dict[str | None, set[tuple[str, str]]] = defaultdict(set)
    for edge in resolution.edges:
        requirement = edge.requirement
        children[edge.parent].add((requirement.name, str(requirement.constraint) or "any"))
    return {parent: sorted(items) for parent, items in children.items()}


def why(resolution: Resolution, name: str) -> list[list[dict[str, Any]]]:
    """Every chain of requirements from the project to ``name`` (at most MAX_CHAINS)."""
    children = _children(resolution)
    chains: list[list[dict[str, Any]]] = []

    def walk(parent: str | None, path: list[dict[str, Any]], seen: set[str]) -> None:
        for child, constraint in children.get(parent, []):
            if child in seen or len(chains) >= MAX_CHAINS:
                continue
            pin = resolution.pins.get(child)
            step = {"formula": child, "constraint": constraint, "locked": pin.ref if pin else None}
            if child == name:
                chains.append([*path, step])
            else:
                walk(child, [*path, step], seen | {child})

    walk(None, [], set())
    return chains


def format_chain(chain: list[dict[str, Any]]) -> str:
    """``project -> org/a-formula>=v1.0 (v1.2.0) -> ...``."""
    steps = [f"{step['formula']}{'' if step['constraint'] == 'any' else step['constraint']} ({step['locked']})" for step in chain]
    return " -> ".join([ROOT_LABEL, *steps])


def graph_text(resolution: Resolution) -> list[str]:
    """The resolved graph as an indented tree; a formula seen before is marked, not repeated."""
    children = _children(resolution)
    lines = [ROOT_LABEL]
    shown: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for child, constraint in children.get(parent, []):
            pin = resolution.pins.get(child)
            label = f"{'  ' * depth}{child} {pin.ref if pin else '?'} ({constraint})"
            if child in shown:
                lines.append(f"{label} (see above)")
                continue
            shown.add(child)
            lines.append(label)
            walk(child, depth + 1)

    walk(None, 1)
    return lines


def graph_dot(resolution: Resolution) -> list[str]:
    """The resolved graph in Graphviz DOT."""
    lines = ["digraph formulas {", f'  "{ROOT_LABEL}" [shape=box];']
    for name, pin in sorted(resolution.pins.items()):
        lines.append(f'  "{name}" [label="{name}\\n{pin.ref}"];')
    for parent, items in sorted(_children(resolution).items(), key=lambda item: item[0] or ""):
        for child, constraint in items:
            lines.append(f'  "{parent or ROOT_LABEL}" -> "{child}" [label="{constraint}"];')
    lines.append("}")
    return lines


def outdated(lock: LockFile, wanted: Resolution, tags: Mapping[str, Mapping[str, str]]) -> list[OutdatedRow]:
    """Each locked formula: locked ref, newest the constraints allow, newest tag at all."""
    rows: list[OutdatedRow] = []
    for entry in lock.entries:
        pin = wanted.pins.get(entry.name)
        ordered = [tag for tag, version in version_tags(tags.get(entry.name, {})) if not version.is_prerelease]
        latest = ordered[0] if ordered else None
        allowed = pin.ref if pin else None
        rows.append({
            "formula": entry.name,
            "locked": entry.ref,
            "wanted": allowed,
            "latest": latest,
            "outdated": entry.kind == "tag" and (allowed not in (None, entry.ref) or latest not in (None, entry.ref)),
        })
    return rows
