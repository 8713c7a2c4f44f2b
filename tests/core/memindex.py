"""An in-memory Index for resolver tests, and a checker for what resolve() returns.

The index is built from a plain dict keyed by source (with the identity default
source, a formula's source is its name; a dependency with an explicit URL is
looked up under that URL)::

    {"org/a-formula": {
        "tags": {"v1.0.0": ["org/c-formula<v2"], "v2.0.0": None},
        "branches": {"develop": ["org/c-formula>=v2"]},
        "commits": {"<40 hex>": [...]},          # reachable only with a rev pin
    }}

Each ref maps to the dependency strings (or mappings) of its metadata.yml,
None when that commit has no metadata.yml, a mapping written out as the whole
metadata.yml, or a string taken as the raw metadata.yml text. Every manifest
goes through the real ``parse_manifest``. Commit ids are derived from the
source and the ref, so they are stable across runs.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from shaker_core.errors import GitError
from shaker_core.manifest import Manifest, Requirement, parse_manifest
from shaker_core.resolver import Pin, Resolution
from shaker_core.versions import Constraint, parse_tag


def commit_of(source: str, ref: str) -> str:
    """The commit id that ``ref`` of the repository at ``source`` names."""
    return hashlib.sha1(f"{source}@{ref}".encode()).hexdigest()


def metadata_text(spec: Any) -> str | None:
    """The metadata.yml text of one ref (None: the commit has no metadata.yml)."""
    if spec is None or isinstance(spec, str):
        return spec
    document = spec if isinstance(spec, dict) else {"dependencies": list(spec)}
    return yaml.safe_dump(document, sort_keys=False)


def identity(name: str) -> str:
    """The default source function of these tests: a formula's source is its name."""
    return name


class MemIndex:
    """The resolver's Index protocol over a dict."""

    def __init__(self, repositories: Mapping[str, Any]) -> None:
        self.tags: dict[str, dict[str, str]] = {}
        self.heads: dict[str, dict[str, str]] = {}
        self.texts: dict[tuple[str, str], str | None] = {}
        self.parsed: dict[tuple[str, str], Manifest] = {}
        for source, spec in repositories.items():
            spec = spec or {}
            self.tags[source] = self._refs(source, spec.get("tags"))
            self.heads[source] = self._refs(source, spec.get("branches"))
            for commit, deps in (spec.get("commits") or {}).items():
                self.texts[(source, commit.lower())] = metadata_text(deps)

    def _refs(self, source: str, refs: Mapping[str, Any] | None) -> dict[str, str]:
        found = {}
        for ref, deps in (refs or {}).items():
            found[ref] = commit_of(source, ref)
            self.texts[(source, found[ref])] = metadata_text(deps)
        return found

    def versions(self, source: str) -> Mapping[str, str]:
        return dict(self.tags.get(source, {}))

    def branches(self, source: str) -> Mapping[str, str]:
        return dict(self.heads.get(source, {}))

    def manifest_at(self, source: str, commit: str) -> Manifest:
        if (source, commit) not in self.texts:
            raise GitError(f"{source} has no commit {commit}")
        if (source, commit) not in self.parsed:
            text = self.texts[(source, commit)]
            path = f"{source}@{commit[:8]}/metadata.yml"
            self.parsed[(source, commit)] = Manifest(path=path) if text is None else parse_manifest(text, path, root=False)
        return self.parsed[(source, commit)]


def project(dependencies: list[Any] | None = None, overrides: list[Any] | None = None, formula: str | None = None) -> Manifest:
    """The project's own manifest, written as YAML and parsed as the real tool does."""
    document: dict[str, Any] = {}
    if formula is not None:
        document["formula"] = formula
    document["dependencies"] = list(dependencies or [])
    if overrides:
        document["overrides"] = list(overrides)
    return parse_manifest(yaml.safe_dump(document, sort_keys=False), "metadata.yml", root=True)


def pin_satisfies(pin: Pin, constraint: Constraint, prereleases: bool) -> bool:
    """Whether a pin meets one constraint, judged from the pin's ref alone."""
    version = parse_tag(pin.ref) if pin.kind == "tag" else None
    if pin.kind == "tag" and version is None:
        return False
    if constraint.kind == "any":
        return version is None or prereleases or not version.is_prerelease
    if constraint.kind == "branch":
        return pin.kind == "branch" and pin.ref == constraint.target
    if constraint.kind == "rev":
        return pin.kind == "rev" and pin.ref == pin.commit == constraint.target.lower()
    return version is not None and constraint.allows(version, prereleases)


def requirements_on(pins: Mapping[str, Pin], root: Manifest, index: MemIndex) -> dict[str, list[Requirement]]:
    """Every formula the project and the manifests at the pins name, with what each asks."""
    asked: dict[str, list[Requirement]] = defaultdict(list)
    for requirement in root.requirements:
        if requirement.name != root.name:
            asked[requirement.name].append(requirement)
    for name, pin in pins.items():
        for requirement in index.manifest_at(pin.source, pin.commit).requirements:
            if requirement.name not in (name, root.name):
                asked[requirement.name].append(requirement)
    return asked


def effective_constraints(root: Manifest, name: str, requirements: list[Requirement]) -> list[Constraint]:
    """The constraints that hold on a formula: the project's override alone, or all asked."""
    overrides = {override.name: override for override in root.overrides}
    return [overrides[name].constraint] if name in overrides else [r.constraint for r in requirements]


def violations(
    pins: Mapping[str, Pin], root: Manifest, index: MemIndex, default_source: Callable[[str], str] = identity
) -> list[str]:
    """Why a set of pins is not a valid answer for ``root`` (empty when it is one).

    Valid means: the pins are exactly the formulas that the project and the manifests at
    the pinned commits name; each pin meets every constraint on it (or the project's
    override instead); a prerelease is pinned only when a constraint names one, a branch
    or commit only when a constraint asks for it; each pin comes from the right source.
    """
    asked = requirements_on(pins, root, index)
    if sorted(pins) != sorted(asked):
        return [f"pins {sorted(pins)} but the graph names {sorted(asked)}"]
    found = []
    overrides = {override.name: override for override in root.overrides}
    for name, requirements in asked.items():
        pin = pins[name]
        override = overrides.get(name)
        constraints = effective_constraints(root, name, requirements)
        prereleases = any(constraint.names_prerelease for constraint in constraints)
        found += [f"{name} {pin.ref} breaks '{c}'" for c in constraints if not pin_satisfies(pin, c, prereleases)]
        if pin.kind != "tag" and pin.kind not in {c.kind for c in constraints}:
            found.append(f"{name} is pinned to {pin.kind} {pin.ref} though no constraint asks for one")
        # the project decides: its override or its own dependency's source; else every mention agrees
        # (a mention without a source means the default source)
        stated = {r.source for r in root.requirements if r.name == name and r.source}
        if override and override.source:
            stated = {override.source}
        sources = stated or {r.source or default_source(name) for r in requirements}
        if len(sources) > 1:
            found.append(f"{name} is asked for from {len(sources)} sources")
        elif pin.source != sources.pop():
            found.append(f"{name} comes from {pin.source}")
        known = {"tag": index.versions(pin.source), "branch": index.branches(pin.source), "rev": {pin.commit: pin.commit}}
        if pin.name != name or known[pin.kind].get(pin.ref) != pin.commit:
            found.append(f"{name} {pin.ref} does not name {pin.commit}")
    return found


def check_resolution(
    resolution: Resolution, root: Manifest, index: MemIndex, default_source: Callable[[str], str] = identity
) -> None:
    """Assert that resolve()'s pins are a valid answer (see ``violations``)."""
    assert violations(resolution.pins, root, index, default_source) == []
