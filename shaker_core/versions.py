"""The tag policy: which git tags are versions, how they compare, and constraints.

A tag is a candidate when it parses as a version, with or without a leading
``v`` (``v1.2.3``, ``1.2``, ``v2.0.0-rc1``); any other tag is ignored. A
constraint value that is not a version names a branch (``==develop``), and a
40-hex value names a commit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Iterable, Literal, Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

RefKind = Literal["tag", "branch", "rev"]  # what a pin names: a version tag, a branch head, or a commit
ConstraintKind = Literal["any", "version", "branch", "rev"]  # what a constraint asks for

OPERATORS = ("==", "!=", ">=", "<=", ">", "<")
OPERATOR_CHARS = "=!<>~"
_COMMIT_RE = re.compile(r"^[0-9a-fA-F]{40}$")
_BRANCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def is_commit(value: str) -> bool:
    """True for a full 40-hex commit id."""
    return bool(_COMMIT_RE.match(value))


@lru_cache(maxsize=65536)
def parse_tag(tag: str) -> Version | None:
    """The version a tag names, or None when the tag is not a version."""
    text = tag[1:] if tag[:1] in ("v", "V") else tag
    if not text[:1].isdigit():
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def tag_order_key(tag: str, version: Version) -> tuple[Version, str]:
    """Sort key for tags: by version, then by name, so equal versions are deterministic."""
    return (version, tag)


def version_tags(tags: Mapping[str, str]) -> list[tuple[str, Version]]:
    """The tags that are versions, highest first."""
    parsed = [(tag, parse_tag(tag)) for tag in tags]
    found = [(tag, version) for tag, version in parsed if version is not None]
    found.sort(key=lambda item: tag_order_key(*item), reverse=True)
    return found


def is_valid_branch_name(value: str) -> bool:
    """Whether a constraint value can name a git branch."""
    return bool(_BRANCH_RE.match(value)) and ".." not in value and not value.endswith((".lock", "/", "."))


@dataclass(frozen=True, kw_only=True, slots=True)
class Clause:
    """One ``<op><value>`` part of a constraint."""

    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.op}{self.value}"


@dataclass(frozen=True)
class Constraint:
    """A set of clauses that must all hold: on versions, or one branch, or one commit."""

    clauses: tuple[Clause, ...] = ()

    @cached_property
    def kind(self) -> ConstraintKind:
        """``any``, ``version``, ``branch`` or ``rev``."""
        if not self.clauses:
            return "any"
        value = self.clauses[0].value
        if len(self.clauses) == 1 and self.clauses[0].op == "==":
            if is_commit(value):
                return "rev"
            if parse_tag(value) is None and "*" not in value:
                return "branch"
        return "version"

    @property
    def target(self) -> str:
        """The branch name or commit id of a branch or rev constraint."""
        return self.clauses[0].value

    @cached_property
    def names_prerelease(self) -> bool:
        """True when a clause names a prerelease, which lets prereleases be chosen."""
        versions = (parse_tag(clause.value) for clause in self.clauses)
        return any(version is not None and version.is_prerelease for version in versions)

    def specifier(self) -> SpecifierSet:
        """The clauses as a packaging SpecifierSet (``v`` prefixes removed)."""
        return _specifier(self.clauses)

    def allows(self, version: Version, prereleases: bool) -> bool:
        """Whether a version satisfies every clause."""
        if self.kind != "version":
            return self.kind == "any" and (prereleases or not version.is_prerelease)
        return _contains(self.clauses, version, prereleases)

    @cached_property
    def text(self) -> str:
        """The clauses joined by commas, as written."""
        return ",".join(str(clause) for clause in self.clauses)

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=4096)
def _specifier(clauses: tuple[Clause, ...]) -> SpecifierSet:
    return SpecifierSet(",".join(f"{clause.op}{_strip_v(clause.value)}" for clause in clauses))


@lru_cache(maxsize=65536)
def _contains(clauses: tuple[Clause, ...], version: Version, prereleases: bool) -> bool:
    """Every clause holds. ``<v1.0.0`` is plain ordering, so ``>=v1.0.0-rc1,<v1.0.0`` holds ``v1.0.0-rc1``:
    PEP 440 would exclude every prerelease of 1.0.0 there, which is not what a tag range means."""
    if version.is_prerelease and not prereleases:
        return False
    for clause in clauses:
        bound = parse_tag(clause.value) if clause.op == "<" else None
        if bound is not None:
            if not version < bound:
                return False
        elif not _specifier((clause,)).contains(version, prereleases=True):
            return False
    return True


def _strip_v(value: str) -> str:
    return value[1:] if value[:1] in ("v", "V") and value[1:2].isdigit() else value


def parse_constraint(text: str) -> Constraint:
    """Parse ``>=v1.0,<v2.0``; raise ValueError with the reason when it is not valid."""
    text = text.strip()
    if not text:
        return Constraint()
    clauses = tuple(_parse_clause(part) for part in text.split(","))
    constraint = Constraint(clauses)
    _check_kinds(constraint)
    return constraint


def _parse_clause(part: str) -> Clause:
    part = part.strip()
    if not part:
        raise ValueError("has an empty clause between commas")
    length = 0
    while length < len(part) and part[length] in OPERATOR_CHARS:
        length += 1
    op, value = part[:length], part[length:].strip()
    if not op:
        raise ValueError(f"has '{part}' where an operator ({', '.join(OPERATORS)}) should be")
    if op not in OPERATORS:
        raise ValueError(f"uses unknown operator '{op}'; use one of {', '.join(OPERATORS)}")
    if not value:
        raise ValueError(f"has nothing after '{op}'")
    if any(char.isspace() for char in value):
        raise ValueError(f"has a space inside '{value}'")
    return Clause(op=op, value=value)


def _check_kinds(constraint: Constraint) -> None:
    for clause in constraint.clauses:
        version = parse_tag(clause.value)
        if version is None and "*" not in clause.value:
            _check_non_version(constraint, clause)
    if constraint.kind == "version":
        try:
            constraint.specifier()
        except InvalidSpecifier:
            raise ValueError(f"'{constraint}' is not a valid version range") from None


def _check_non_version(constraint: Constraint, clause: Clause) -> None:
    if len(constraint.clauses) > 1 or clause.op != "==":
        raise ValueError(
            f"compares '{clause.value}', which is not a version; "
            "a branch or commit can only be named alone with '=='"
        )
    if not is_commit(clause.value) and not is_valid_branch_name(clause.value):
        raise ValueError(f"names '{clause.value}', which is neither a version nor a valid branch name")


def intersect(constraints: Iterable[Constraint]) -> Constraint:
    """All clauses of several constraints as one (used for display)."""
    clauses: list[Clause] = []
    for constraint in constraints:
        clauses.extend(c for c in constraint.clauses if c not in clauses)
    return Constraint(tuple(clauses))
