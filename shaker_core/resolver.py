"""Pick one git ref per formula so every constraint holds: a resolvelib provider.

The resolver sees formulas only through an ``Index`` (tags, branches and the
metadata.yml at a commit), so it never touches git and is tested with an
in-memory index. Conflicts are explained as pip explains them: each
constraint with the chain of formulas that asked for it, then what to try.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable, Iterator, Mapping, Sequence

import resolvelib

from . import resolvelib_seam as seam
from .candidates import Candidate, CandidateFinder, Index, satisfies
from .conflicts import Explainer
from .errors import LimitExceeded, ManifestError, ResolutionConflict
from .fail_first import FailFirst
from .fastpath import resolve_without_conflicts
from .manifest import Manifest, Requirement
from .pin_order import PinOrder, Preference, requirement_sort_key
from .resolvelib_seam import RequirementInformation, Result
from .sources import redact
from .versions import Constraint, RefKind

log = logging.getLogger(__name__)

DEFAULT_MAX_ROUNDS = 10_000
DEFAULT_MAX_FORMULAS = 5_000
MAX_STALE_RETRIES = 10


@dataclass(frozen=True, kw_only=True, slots=True)
class Pin:
    """The resolved state of one formula."""

    name: str
    ref: str
    kind: RefKind
    commit: str
    source: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Edge:
    """``parent`` (None for the project) asks for ``requirement``."""

    parent: str | None
    parent_ref: str | None
    requirement: Requirement


@dataclass
class Resolution:
    """The outcome: one pin per formula, who asked for what, and each pin's manifest."""

    pins: dict[str, Pin] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    manifests: dict[str, Manifest] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def resolve(
    project: Manifest,
    index: Index,
    default_source: Callable[[str], str],
    *,
    preferred: Mapping[str, str] | None = None,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    max_formulas: int = DEFAULT_MAX_FORMULAS,
    fast_path: bool = True,
) -> Resolution:
    """Resolve the project's dependency graph to one pin per formula.

    ``preferred`` maps formula names to refs to keep when the constraints allow
    (a conservative update); every other formula gets its highest allowed tag.
    """
    banned: set[Candidate] = set()
    while True:
        provider = _Provider(project, index, default_source, preferred or {}, max_formulas, banned)
        roots = sorted(provider.root_requirements(), key=requirement_sort_key)
        if not roots:
            return provider.resolution(None)
        provider, result = _search(provider, roots, max_rounds, fast_path and not banned)
        # resolvelib keeps a pin that still satisfies what remains after backtracking, even
        # when only a version it gave up made that pin possible (by naming its source, a
        # prerelease or a branch). Such a pin is not an answer: resolve again without it.
        stale = provider.stale_pin(result)
        if stale is None:
            return provider.resolution(result)
        if len(banned) >= MAX_STALE_RETRIES:
            raise Explainer(provider).stale_error(stale, result)
        banned.add(stale)


def _search(provider: _Provider, roots: list[Requirement], max_rounds: int, fast: bool) -> tuple[_Provider, Result]:
    """The fast path when nothing conflicts, else resolvelib with a fresh provider; failures become salt-shaker's errors."""
    result = resolve_without_conflicts(provider, roots) if fast else None
    if result is not None:
        return provider, result
    provider = provider.fresh()
    try:
        roots = sorted(provider.root_requirements(), key=requirement_sort_key)
        return provider, seam.run(provider, roots, max_rounds, lambda: len(provider.seen), provider.max_formulas)
    except resolvelib.ResolutionImpossible as exc:
        raise Explainer(provider).explain(list(exc.causes)) from None
    except resolvelib.ResolutionTooDeep:
        raise LimitExceeded(f"Resolving took more than {max_rounds} rounds beyond one per formula; add tighter constraints or raise "
                            "the 'max_resolution_rounds' setting.") from None


class _Provider(resolvelib.AbstractProvider):
    def __init__(
        self,
        project: Manifest,
        index: Index,
        default_source: Callable[[str], str],
        preferred: Mapping[str, str],
        max_formulas: int,
        banned: Collection[Candidate] = (),
    ) -> None:
        self.project = project
        self.index = index
        self.default_source = default_source
        self.preferred = preferred
        self.max_formulas = max_formulas
        self.banned = banned
        self.overrides = {override.name: override for override in project.overrides}
        self.manifests: dict[tuple[str, str], Manifest] = {}
        self.required_by: dict[str, list[tuple[Candidate | None, Requirement]]] = {}
        self.unused_overrides = set(self.overrides)
        self.seen: set[str] = set()
        self._satisfied: dict[tuple[str, str, str, str, str, str], bool] = {}
        self.finder = CandidateFinder(index)
        self._sources = _sources_by_name(project)
        self.order = PinOrder()
        self.fail_first: FailFirst | None = None  # resolvelib's search only: the fast path never meets a conflict
        self._doomed: set[str] = set()

    def fresh(self) -> _Provider:
        """A provider with no search state that shares the manifests already read, for resolvelib's search."""
        again = _Provider(self.project, self.index, self.default_source, self.preferred, self.max_formulas, self.banned)
        again.manifests, again.finder = self.manifests, self.finder.sharing_tags()
        again.fail_first = FailFirst()
        return again

    # -- the resolvelib contract (called by keyword: keep the signatures) --

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return requirement_or_candidate.name

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation]],
        backtrack_causes: Sequence[RequirementInformation],
    ) -> Preference:
        in_causes = any(cause.requirement.name == identifier for cause in backtrack_causes)
        override = self.overrides.get(identifier)
        if override is not None:
            self.unused_overrides.discard(identifier)
            by_ref = override.constraint.kind in ("rev", "branch")
        else:
            by_ref = any(info.requirement.constraint.kind in ("rev", "branch") for info in information[identifier])
        return self.order.preference(identifier, in_causes, by_ref, identifier in self._doomed)

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation]],
        backtrack_causes: Sequence[RequirementInformation],
    ) -> list[str]:
        names = list(identifiers)
        if self.fail_first is not None:
            self._doomed = self.fail_first.doomed(set(names), lambda name: self._must_conflict(name, candidates))
        return self.order.narrow(names, {cause.requirement.name for cause in backtrack_causes}, self._doomed)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        wanted = list(requirements[identifier])
        excluded = set(incompatibilities[identifier])
        constraints = self.constraints(identifier, wanted)
        source = self.agreed_source(identifier, wanted)
        if source is None:
            return []  # asked for from two sources: resolvelib backtracks, and explain() names both
        found = self._prefer_locked(identifier, [c for c in self.candidates(identifier, source, constraints) if c not in excluded and c not in self.banned])
        if self.fail_first is not None:
            self._watch(identifier, found)
        return found

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        # resolvelib asks this for every pin in every round: memoise on cheap string keys
        key = (requirement.name, requirement.constraint.text, requirement.source or "", candidate.ref, candidate.commit, candidate.source)
        known = self._satisfied.get(key)
        if known is None:
            known = satisfies(self._effective(requirement), candidate) and self.requirement_source(requirement) == candidate.source
            self._satisfied[key] = known
        return known

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        children = self._children(candidate)
        for requirement in children:
            self._note_parent(requirement, candidate)
        if self.fail_first is not None:
            self.fail_first.asked(r.name for r in children)
        return sorted(children, key=requirement_sort_key)

    def _children(self, candidate: Candidate) -> list[Requirement]:
        return [r for r in self.manifest(candidate).requirements if r.name not in (candidate.name, self.project.name)]

    # -- fail first (see fail_first.py) --

    def _watch(self, identifier: str, found: list[Candidate]) -> None:
        assert self.fail_first is not None
        if not found:
            self.fail_first.armed = True
        elif (children := self._lookahead(found[0])) is not None:
            self.fail_first.watch(identifier, found[0], lambda: [r.name for r in children])

    def _lookahead(self, candidate: Candidate) -> list[Requirement] | None:
        """What a candidate not yet pinned needs; None when its manifest is bad (the search reports that if it gets there)."""
        try:
            return self._children(candidate)
        except ManifestError:
            return None

    def _must_conflict(self, name: str, candidates: Mapping[str, Iterable[Candidate]]) -> bool:
        """Whether each candidate left for ``name`` needs of some formula already asked for what no candidate left for it allows."""
        left = list(candidates[name])
        return bool(left) and all(self._needs_the_impossible(candidate, candidates) for candidate in left)

    def _needs_the_impossible(self, candidate: Candidate, candidates: Mapping[str, Iterable[Candidate]]) -> bool:
        children = self._lookahead(candidate)
        return children is not None and any(
            child.name in candidates and not any(self.is_satisfied_by(child, other) for other in candidates[child.name])
            for child in children
        )

    # -- inputs --

    def root_requirements(self) -> list[Requirement]:
        roots = [r for r in self.project.requirements if r.name != self.project.name]
        for requirement in roots:
            self._note_parent(requirement, None)
        return roots

    def _note_parent(self, requirement: Requirement, parent: Candidate | None) -> None:
        parents = self.required_by.setdefault(requirement.name, [])
        if (parent, requirement) not in parents:
            parents.append((parent, requirement))
        self.seen.add(requirement.name)
        override = self.overrides.get(requirement.name)
        by_ref = (override.constraint if override is not None else requirement.constraint).kind in ("rev", "branch")
        self.order.note(requirement.name, parent.name if parent is not None else None, by_ref)
        if len(self.seen) > self.max_formulas:
            raise LimitExceeded(
                f"The dependency graph names more than {self.max_formulas} formulas; raise the 'max_formulas' setting if that is intended."
            )

    def _effective(self, requirement: Requirement) -> Constraint:
        override = self.overrides.get(requirement.name)
        if override is not None:
            self.unused_overrides.discard(requirement.name)
            return override.constraint
        return requirement.constraint

    def constraints(self, identifier: str, wanted: list[Requirement]) -> list[Constraint]:
        if identifier in self.overrides:
            self.unused_overrides.discard(identifier)
            return [self.overrides[identifier].constraint]
        return [requirement.constraint for requirement in wanted]

    def _stated_source(self, identifier: str) -> str | None:
        """The source the project's own metadata.yml gives (an override, or a dependency with one)."""
        override = self.overrides.get(identifier)
        if override is not None and override.source:
            return override.source
        stated = self._sources.get(identifier, [])
        if len(stated) > 1:
            raise ResolutionConflict(
                f"{identifier} is asked for from two sources, {redact(stated[0])} and {redact(stated[1])}; "
                "name one source, or set it with an 'overrides:' entry in the project's metadata.yml."
            )
        return stated[0] if stated else None

    def requirement_source(self, requirement: Requirement) -> str:
        """Where ``requirement`` asks its formula from: the project decides; a mention without a source means the default."""
        return self._stated_source(requirement.name) or requirement.source or self.default_source(requirement.name)

    def agreed_source(self, identifier: str, wanted: list[Requirement]) -> str | None:
        """The one source every requirement agrees on; None when two disagree (no candidate can satisfy both)."""
        sources = {self.requirement_source(requirement) for requirement in wanted} or {self.source_of_name(identifier)}
        return sources.pop() if len(sources) == 1 else None

    def source_of_name(self, identifier: str) -> str:
        return self._stated_source(identifier) or self.default_source(identifier)

    # -- candidates --

    def candidates(self, name: str, source: str, constraints: list[Constraint]) -> list[Candidate]:
        return self.finder.find(name, source, constraints)

    def _prefer_locked(self, name: str, found: list[Candidate]) -> list[Candidate]:
        locked = self.preferred.get(name)
        if locked is None:
            return found
        keep = [candidate for candidate in found if candidate.ref == locked]
        return keep + [candidate for candidate in found if candidate.ref != locked]

    def manifest(self, candidate: Candidate) -> Manifest:
        key = (candidate.source, candidate.commit)
        if key not in self.manifests:
            try:
                self.manifests[key] = self.index.manifest_at(candidate.source, candidate.commit)
            except ManifestError as exc:
                raise ManifestError(f"{candidate.name} {candidate.ref}: {exc.message}") from None
        return self.manifests[key]

    # -- outputs --

    def resolution(self, result: Result | None) -> Resolution:
        mapping = result.mapping if result is not None else {}
        criteria = result.criteria if result is not None else {}
        pins = {
            name: Pin(name=c.name, ref=c.ref, kind=c.kind, commit=c.commit, source=c.source)
            for name, c in sorted(mapping.items())
        }
        edges = [
            Edge(parent=info.parent.name if info.parent else None, parent_ref=info.parent.ref if info.parent else None, requirement=info.requirement)
            for name in sorted(mapping)
            for info in _live(criteria[name].information, mapping)
        ]
        manifests = {name: self.manifest(c) for name, c in mapping.items()}
        warnings = list(self.project.warnings)
        warnings += [w for m in manifests.values() for w in m.warnings]
        warnings += [
            f"The override for {name} matches no dependency; remove it from 'overrides:'."
            for name in sorted(self.unused_overrides)
        ]
        return Resolution(pins, edges, manifests, warnings)

    def stale_pin(self, result: Result) -> Candidate | None:
        """A pin that what the result asks of its formula does not allow, if there is one."""
        for name, candidate in sorted(result.mapping.items()):
            source, constraints = self.live_constraints(name, result)
            if candidate.source != source or candidate not in self.candidates(name, source, constraints):
                return candidate
        return None

    def live_constraints(self, name: str, result: Result) -> tuple[str, list[Constraint]]:
        wanted = [info.requirement for info in _live(result.criteria[name].information, result.mapping)]
        return self.agreed_source(name, wanted) or self.source_of_name(name), self.constraints(name, wanted)

def _sources_by_name(project: Manifest) -> dict[str, list[str]]:
    """The sources the project's own dependencies give each formula, sorted."""
    found: dict[str, set[str]] = {}
    for requirement in project.requirements:
        if requirement.source:
            found.setdefault(requirement.name, set()).add(requirement.source)
    return {name: sorted(sources) for name, sources in found.items()}


def _live(
    information: Iterable[RequirementInformation], mapping: Mapping[str, Candidate]
) -> list[RequirementInformation]:
    """The requirements asked by the project or by a candidate in the result."""
    return [info for info in information if info.parent is None or mapping.get(info.parent.name) == info.parent]
