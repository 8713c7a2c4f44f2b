"""What a formula can be pinned to: the resolver's view of a repository (``Index``) and its candidates.

A tag constraint is met by the version tags it allows, highest first; a branch
or commit constraint by that one ref. Tags are read and parsed once per source
and search, because the resolver asks for a formula's candidates every time one
more requirement on it arrives.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

from packaging.version import Version

from .manifest import Manifest
from .versions import Constraint, RefKind, version_tags


class Index(Protocol):
    """Where the resolver learns about formulas; the git cache implements it."""

    def versions(self, source: str) -> Mapping[str, str]:
        """Every tag of the repository at ``source``, mapped to the commit it names."""

    def branches(self, source: str) -> Mapping[str, str]:
        """Every branch of the repository at ``source``, mapped to its head commit."""

    def manifest_at(self, source: str, commit: str) -> Manifest:
        """The metadata.yml of the repository at a commit (an empty Manifest when it has none)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    """One pinnable state of a formula: a tag, a branch head or a commit."""

    name: str
    ref: str
    kind: RefKind
    commit: str
    source: str
    version: Version | None = field(default=None, compare=False)  # follows from ref; packaging's hash is slow

    def __str__(self) -> str:
        return f"{self.name} {self.ref}"


class CandidateFinder:
    """The candidates of formulas, from an ``Index``; one per search."""

    def __init__(self, index: Index, parsed: dict[str, list[tuple[str, Version, str]]] | None = None) -> None:
        self.index = index
        self._parsed = parsed if parsed is not None else {}

    def sharing_tags(self) -> CandidateFinder:
        """A finder for a new search that keeps the tags already read."""
        return CandidateFinder(self.index, self._parsed)

    def find(self, name: str, source: str, constraints: list[Constraint]) -> list[Candidate]:
        """Every candidate of ``name`` at ``source`` that all ``constraints`` allow, the most preferred first."""
        kinds = {constraint.kind for constraint in constraints} - {"any"}
        if kinds == {"rev"}:
            return self._rev_candidates(name, source, constraints)
        if kinds == {"branch"}:
            return self._branch_candidates(name, source, constraints)
        if kinds - {"version"}:
            return []
        return self._tag_candidates(name, source, constraints)

    def _rev_candidates(self, name: str, source: str, constraints: list[Constraint]) -> list[Candidate]:
        commits = {c.target.lower() for c in constraints if c.kind == "rev"}
        if len(commits) != 1:
            return []
        commit = commits.pop()
        return [Candidate(name=name, ref=commit, kind="rev", commit=commit, source=source)]

    def _branch_candidates(self, name: str, source: str, constraints: list[Constraint]) -> list[Candidate]:
        targets = {c.target for c in constraints if c.kind == "branch"}
        if len(targets) != 1:
            return []
        branch = targets.pop()
        commit = self.index.branches(source).get(branch)
        return [Candidate(name=name, ref=branch, kind="branch", commit=commit, source=source)] if commit else []

    def _tag_candidates(self, name: str, source: str, constraints: list[Constraint]) -> list[Candidate]:
        prereleases = any(constraint.names_prerelease for constraint in constraints)
        return [
            Candidate(name=name, ref=tag, kind="tag", commit=commit, source=source, version=version)
            for tag, version, commit in self._version_tags(source)
            if all(constraint.allows(version, prereleases) for constraint in constraints)
        ]

    def _version_tags(self, source: str) -> list[tuple[str, Version, str]]:
        """A source's version tags, highest first, with their commits: read and parsed once per search."""
        known = self._parsed.get(source)
        if known is None:
            tags = self.index.versions(source)
            known = self._parsed[source] = [(tag, version, tags[tag]) for tag, version in version_tags(tags)]
        return known


def satisfies(constraint: Constraint, candidate: Candidate) -> bool:
    """Whether ``candidate`` meets ``constraint`` (a tag range, a branch or a commit)."""
    kind = constraint.kind
    if kind == "any":
        return True
    if kind == "rev":
        return candidate.commit.lower() == constraint.target.lower()
    if kind == "branch":
        return candidate.kind == "branch" and candidate.ref == constraint.target
    return candidate.version is not None and constraint.allows(candidate.version, prereleases=True)
