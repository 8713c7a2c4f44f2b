"""Why a resolution failed, in words: a sentence rendered from structured causes.

resolvelib reports a failure as the requirements that could not all hold
(``RequirementInformation``: a requirement and the candidate that asked for it).
:class:`Explainer` turns them into :class:`Cause` values (formula, requirement, the
chain of versions from the project that asked, the source) and renders the
message from those; the error keeps the causes as data, so ``--json`` and the
runner return them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .errors import NoMatchingVersion, ResolutionConflict
from .resolvelib_seam import RequirementInformation, Result
from .sources import redact
from .versions import Constraint, intersect, parse_tag, version_tags

if TYPE_CHECKING:
    from .resolver import Candidate

ROOT_LABEL = "project"
LISTED_TAGS = 10  # how many tags a message lists before "and N more"


@dataclass(frozen=True, kw_only=True, slots=True)
class Cause:
    """One requirement among those that could not all hold."""

    formula: str
    requirement: str
    chain: tuple[str, ...]  # from the project, each version that asked, then the requirement
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"formula": self.formula, "requirement": self.requirement, "chain": list(self.chain), "source": self.source}


class Explainer:
    """Explains a failed resolution of ``provider`` (the resolver's provider: sources, constraints, candidates, who asked)."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def causes(self, infos: Iterable[RequirementInformation]) -> list[Cause]:
        """The structured form of resolvelib's causes."""
        return [
            Cause(formula=info.requirement.name, requirement=str(info.requirement), chain=tuple(self._chain(info.parent) + [str(info.requirement)]),
                  source=redact(self.provider.requirement_source(info.requirement)))
            for info in infos
        ]

    def stale_error(self, candidate: Candidate, result: Result) -> ResolutionConflict:
        source, constraints = self.provider.live_constraints(candidate.name, result)
        asked = str(intersect(constraints))
        shown = f"'{asked}'" if asked else "any release"
        picked = f"{candidate.ref} from {redact(candidate.source)}" if candidate.source != source else candidate.ref
        return ResolutionConflict(
            f"{candidate.name} {picked} was picked because a formula version that is not in the result asked for it; "
            f"what the result asks of {candidate.name} ({shown}, from {redact(source)}) does not allow it. "
            f"Pin {candidate.name} in the project's metadata.yml, as a dependency or an 'overrides:' entry."
        )

    def explain(self, causes: Sequence[RequirementInformation]) -> Exception:
        """Turn resolvelib's causes into a NoMatchingVersion or a ResolutionConflict."""
        by_name: dict[str, list[RequirementInformation]] = {}
        for cause in causes:
            by_name.setdefault(cause.requirement.name, []).append(cause)
        for name, infos in sorted(by_name.items()):
            if self.provider.agreed_source(name, [info.requirement for info in infos]) is None:
                return ResolutionConflict(self._source_conflict_text(name, infos), causes=[cause.as_dict() for cause in self.causes(causes)])
        for name, infos in sorted(by_name.items()):
            for info in infos:
                alone = self._explain_alone(name, info)
                if alone is not None:
                    return alone
        return ResolutionConflict(self._conflict_text(by_name), causes=[cause.as_dict() for cause in self.causes(causes)])

    def _source_conflict_text(self, name: str, infos: Sequence[RequirementInformation]) -> str:
        by_source: dict[str, set[str]] = {}
        for info in infos:
            by_source.setdefault(self.provider.requirement_source(info.requirement), set()).add(" -> ".join(self._chain(info.parent) + [str(info.requirement)]))
        lines = [f"{name} is asked for from {len(by_source)} sources, and only the project's metadata.yml may choose one:"]
        for source, chains in sorted(by_source.items()):
            default = " (the default source)" if source == self.provider.default_source(name) else ""
            lines.append(f"  from {redact(source)}{default}:")
            lines.extend(f"    {chain}" for chain in sorted(chains))
        lines.append(f"Name the source of {name} in the project's metadata.yml, as a dependency with 'source:' or an 'overrides:' entry.")
        return "\n".join(lines)

    def _explain_alone(self, name: str, info: RequirementInformation) -> NoMatchingVersion | None:
        constraints = self.provider.constraints(name, [info.requirement])
        source = self.provider.requirement_source(info.requirement)
        if self.provider.candidates(name, source, constraints):
            return None
        constraint = constraints[0]
        if name in self.provider.overrides:
            asked = f"the override {self.provider.overrides[name]} in the {ROOT_LABEL}'s metadata.yml"
        else:
            asked = " -> ".join(self._chain(info.parent) + [str(info.requirement)])
        return NoMatchingVersion(f"{self._nothing_matches(name, source, constraint)} (asked by {asked}).")

    def _nothing_matches(self, name: str, source: str, constraint: Constraint) -> str:
        if constraint.kind == "branch":
            branches = sorted(self.provider.index.branches(source))
            return f"{name} has no branch '{constraint.target}'; its branches are {listing(branches)}"
        if constraint.kind == "rev":
            return f"{name} has no commit {constraint.target}"
        tags = [tag for tag, _ in version_tags(self.provider.index.versions(source))]
        if not tags:
            return f"{name} has no version tags; tag a release (git tag v1.0.0) or pin a branch with '==<branch>'"
        stable = [tag for tag in tags if not is_prerelease(tag)]
        if not stable and constraint.kind == "any":
            return f"{name} has only prerelease tags ({listing(tags)}); name one, like '=={tags[0]}'"
        return f"No tag of {name} satisfies '{constraint}'; its version tags are {listing(tags)}"

    def _conflict_text(self, by_name: Mapping[str, list[RequirementInformation]]) -> str:
        lines: list[str] = []
        for name, infos in sorted(by_name.items()):
            lines.append(f"Cannot pick one version of {name} that satisfies every constraint:")
            chains = sorted({" -> ".join(self._chain(info.parent) + [str(info.requirement)]) for info in infos})
            lines.extend(f"  {chain}" for chain in chains)
            source = self.provider.agreed_source(name, [info.requirement for info in infos]) or self.provider.source_of_name(name)
            tags = [tag for tag, _ in version_tags(self.provider.index.versions(source))]
            lines.append(f"  {name} has the version tags {listing(tags)}.")
        lines.append(
            "Relax one of these constraints, or force one version with an 'overrides:' entry in the project's metadata.yml."
        )
        return "\n".join(lines)

    def _chain(self, candidate: Candidate | None) -> list[str]:
        chain: list[str] = []
        visited: set[str] = set()
        while candidate is not None and candidate.name not in visited:
            visited.add(candidate.name)
            chain.insert(0, str(candidate))
            # Of the versions that asked for this formula, follow one whose request this
            # candidate meets: another may have been given up for asking something else.
            asked = self.provider.required_by.get(candidate.name, [])
            parents = [parent for parent, requirement in asked if self.provider.is_satisfied_by(requirement, candidate)]
            parents = parents or [parent for parent, _ in asked]
            candidate = None if not parents or None in parents else parents[0]
        return [ROOT_LABEL] + chain


def is_prerelease(tag: str) -> bool:
    version = parse_tag(tag)
    return bool(version and version.is_prerelease)


def listing(items: Iterable[str], limit: int = 10) -> str:
    items = list(items)
    if not items:
        return "none"
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
