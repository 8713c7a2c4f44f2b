"""metadata.yml text -> Manifest. Pure: no file system, no git.

Grammar (see README.rst, "metadata.yml")::

    formula: my_org/local-formula       # optional, exactly one '/'
    exports: [local]                     # optional, default: name without -formula
    dependencies:
      - org/a-formula>=v1.0,<v2.0        # string: name or git URL, then constraints
      - {name: org/b-formula, branch: develop, source: https://host/org/b-formula.git}
    overrides:                           # project only: replaces all other constraints
      - org/c-formula==v2.0.0
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from .errors import ManifestError, printable
from .sources import check_name, check_url, looks_like_url, name_from_url, redact
from .versions import OPERATOR_CHARS, Clause, Constraint, is_commit, is_valid_branch_name, parse_constraint, parse_tag
from .yamlsafe import DEFAULT_MAX_BYTES, load_yaml

log = logging.getLogger(__name__)

KNOWN_KEYS = frozenset({"formula", "exports", "dependencies", "overrides", "environments", "name", "version", "source", "description"})
MAPPING_KEYS = ("name", "version", "branch", "rev", "source")
_EXPORT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, kw_only=True, slots=True)
class Requirement:
    """One formula a manifest depends on, with its constraint and optional source URL."""

    name: str
    constraint: Constraint = field(default_factory=Constraint)
    source: str | None = None
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.name}{self.constraint}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Manifest:
    """What a metadata.yml says: own name, exports, dependencies and (project only) overrides."""

    name: str | None = None
    exports: tuple[str, ...] = ()
    requirements: tuple[Requirement, ...] = ()
    overrides: tuple[Requirement, ...] = ()
    warnings: tuple[str, ...] = ()
    path: str = "metadata.yml"
    environments: Mapping[str, tuple[Requirement, ...]] = field(default_factory=dict)
    declared_version: str | None = None
    minimum_salt: str | None = None

    def exports_for(self, formula: str) -> tuple[str, ...]:
        """The declared exports, or the default one derived from the formula name."""
        return self.exports or default_exports(self.name or formula)

    def for_saltenv(self, saltenv: str | None) -> Manifest:
        """The project as one Salt environment sees it: shared dependencies plus that environment's."""
        if not saltenv or not self.environments:
            return self
        if saltenv not in self.environments:
            known = ", ".join(sorted(self.environments))
            raise ManifestError(f"{self.path} declares no environment '{saltenv}' under 'environments:' (it has {known}).")
        return replace(self, requirements=self.requirements + self.environments[saltenv], environments={})


def default_exports(formula: str) -> tuple[str, ...]:
    """``org/users-formula`` exports ``users``."""
    repo = formula.split("/")[-1]
    return (repo[: -len("-formula")] if repo.endswith("-formula") and len(repo) > 8 else repo,)


def parse_manifest(data: str | bytes, path: str = "metadata.yml", *, root: bool = True, max_bytes: int = DEFAULT_MAX_BYTES) -> Manifest:
    """Parse metadata.yml text. ``root`` is True for the project's own file."""
    return manifest_from_document(load_yaml(data, path, max_bytes), path, root=root)


def manifest_from_document(document: Any, path: str, *, root: bool = True) -> Manifest:
    """A Manifest from an already loaded document (metadata.yml's, or a state's ``dependencies`` argument)."""
    if document is None:
        if root:
            raise ManifestError(f"{path} is empty; list the formulas under 'dependencies:'.")
        return Manifest(path=path)
    if not isinstance(document, dict):
        raise ManifestError(f"{path} must be a mapping with 'dependencies:' and optional 'formula:' and 'exports:', not a {_type_name(document)}.")
    warnings = [f"{path}: unknown key '{printable(str(key))}' is ignored." for key in document if key not in KNOWN_KEYS]  # reported once, in the report
    overrides = _parse_list(document, "overrides", path)
    if overrides and not root:
        warnings.append(f"{path}: 'overrides' is ignored; only the project's metadata.yml can override.")
        overrides = ()
    return Manifest(
        name=_parse_name(document.get("formula"), path),
        exports=_parse_exports(document.get("exports"), path) or _tcpcloud_export(document.get("name")),
        requirements=_parse_list(document, "dependencies", path),
        overrides=overrides,
        warnings=tuple(warnings),
        path=path,
        environments=_parse_environments(document.get("environments"), path),
        declared_version=_scalar_text(document.get("version")),
    )


def _tcpcloud_export(name: Any) -> tuple[str, ...]:
    """salt-formulas (tcpcloud) metadata says ``name: linux`` for the ``linux/`` state directory."""
    return (name,) if isinstance(name, str) and _EXPORT_RE.match(name) and ".." not in name else ()


def _scalar_text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(getattr(value, "raw", "") or value)


def _parse_environments(value: Any, path: str) -> dict[str, tuple[Requirement, ...]]:
    """``environments: {base: [...], dev: [...]}``: each saltenv's own dependencies."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(f"{path}: 'environments' must map each saltenv to a list of dependencies, like {{base: [...], dev: [...]}}.")
    environments = {}
    for saltenv, entries in value.items():
        if not isinstance(saltenv, str) or not _EXPORT_RE.match(saltenv):
            raise ManifestError(f"{path}: environment name {saltenv!r} is not a safe saltenv name.")
        environments[saltenv] = _parse_list({saltenv: entries}, saltenv, f"{path}: environments")
    return environments


def _type_name(value: Any) -> str:
    for kind, label in ((bool, "boolean"), ((int, float), "number"), (str, "string"), (dict, "mapping"), (list, "list")):
        if isinstance(value, kind):
            return label
    return "null" if value is None else type(value).__name__


def _parse_name(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ManifestError(f"{path}: 'formula' must be a string like 'my_org/local-formula', not a {_type_name(value)}.")
    reason = check_name(value.strip())
    if reason:
        raise ManifestError(f"{path}: formula name '{value}' {reason}.")
    return value.strip()


def _parse_exports(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise ManifestError(f"{path}: 'exports' must be a non-empty list of directory names, like [users].")
    exports = []
    for index, export in enumerate(value, 1):
        if not isinstance(export, str) or not _EXPORT_RE.match(export) or ".." in export:
            raise ManifestError(
                f"{path}: export {index} ({_shown(export)}) is not a safe directory name; use letters, digits, '.', '_' and '-', not starting with '_', '.' or '-'."
            )
        exports.append(export)
    if len(set(exports)) != len(exports):
        raise ManifestError(f"{path}: 'exports' lists a name twice; list each export once.")
    return tuple(exports)


def _parse_list(document: dict[str, Any], key: str, path: str) -> tuple[Requirement, ...]:
    entries = document.get(key)
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ManifestError(f"{path}: '{key}' must be a list, not a {_type_name(entries)}.")
    singular = {"dependencies": "dependency", "overrides": "override"}.get(key, f"{key} dependency")
    requirements = tuple(parse_entry(entry, f"{path}: {singular} {index}") for index, entry in enumerate(entries, 1))
    _note_duplicates(requirements, path)
    return requirements


def _note_duplicates(requirements: tuple[Requirement, ...], path: str) -> None:
    seen: set[str] = set()
    for requirement in requirements:
        if requirement.name in seen:
            log.debug("%s lists %s more than once; its constraints must all hold.", path, requirement.name)
        seen.add(requirement.name)


def parse_entry(entry: Any, where: str) -> Requirement:
    """One dependency entry (string or mapping); ``where`` starts every error message."""
    if isinstance(entry, str):
        return parse_requirement(entry, where)
    if isinstance(entry, dict):
        return _parse_mapping(entry, where)
    raise ManifestError(f"{where} ({_shown(entry)}) is a {_type_name(entry)}; write 'org/name-formula>=v1.0' or a mapping with 'name:'.")


def _shown(value: Any) -> str:
    """A YAML value for a message, a float as it was written (``1.10``, not ``1.1``)."""
    return getattr(value, "raw", "") or repr(value)


def parse_requirement(text: str, where: str = "dependency") -> Requirement:
    """``org/a-formula>=v1.0,<v2.0`` or ``<git url>==v1.0`` -> Requirement."""
    stripped = text.strip()
    label = f"{where} ('{_short(redact(stripped))}')"
    is_url = looks_like_url(stripped)
    if stripped.startswith("-"):  # an option for git (--upload-pack=...): say so, before its '=' reads as an operator
        _name_from_source(stripped, label)
    split_at = _constraint_start(stripped, "=!<>" if is_url else OPERATOR_CHARS)
    head, spec = stripped[:split_at].strip(), stripped[split_at:]
    constraint = _constraint(spec, label)
    if is_url:
        name, source = _name_from_source(head, label), head
    else:
        name, source = _checked_name(head, label), None
    return Requirement(name=name, constraint=constraint, source=source, text=stripped)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _constraint_start(text: str, chars: str) -> int:
    positions = [text.find(char) for char in chars if char in text]
    return min(positions) if positions else len(text)


def _constraint(spec: str, label: str) -> Constraint:
    try:
        return parse_constraint(spec)
    except ValueError as exc:
        raise ManifestError(f"{label} {exc}.") from None


def _checked_name(name: str, label: str) -> str:
    reason = check_name(name)
    if reason:
        raise ManifestError(f"{label}: the name {reason}; write '<org>/<name>-formula'.")
    return name


def _name_from_source(url: str, label: str) -> str:
    reason = check_url(url)
    if reason:
        raise ManifestError(f"{label}: the source URL {reason}.")
    name = name_from_url(url)
    if name is None:
        raise ManifestError(f"{label}: cannot tell '<org>/<name>' from the URL; use a mapping with 'name:' and 'source:'.")
    return name


def _parse_mapping(entry: dict[str, Any], where: str) -> Requirement:
    label = f"{where} ({_short(_render_mapping(entry))})"
    unknown = [key for key in entry if key not in MAPPING_KEYS]
    if unknown:
        raise ManifestError(f"{label} has unknown key '{unknown[0]}'; use {', '.join(MAPPING_KEYS)}.")
    for key, value in entry.items():
        if value is not None and not isinstance(value, str):
            hint = f"; quote it ('{getattr(value, 'raw', value)}') so it is read as text" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
            raise ManifestError(f"{label}: '{key}' is a {_type_name(value)}, not a string{hint}.")
    source = _mapping_source(entry, label)
    name = entry.get("name")
    if not name:
        if source is None:
            raise ManifestError(f"{label} has no 'name'; add 'name: <org>/<name>-formula'.")
        name = _name_from_source(source, label)
    elif "/" not in name and source is not None:
        name = _name_from_source(source, label)
    constraint = _mapping_constraint(entry, label)
    name = _checked_name(name.strip(), label)
    return Requirement(name=name, constraint=constraint, source=source, text=f"{name}{constraint}")


def _render_mapping(entry: dict[str, Any]) -> str:
    shown = {key: redact(value) if key == "source" and isinstance(value, str) else getattr(value, "raw", value) for key, value in entry.items()}
    return "{" + ", ".join(f"{key}: {value}" for key, value in shown.items()) + "}"


def _mapping_source(entry: dict[str, Any], label: str) -> str | None:
    source = entry.get("source")
    if source is None:
        return None
    source = source.strip()
    reason = check_url(source)
    if reason:
        raise ManifestError(f"{label}: the source URL {reason}.")
    return source


def _mapping_constraint(entry: dict[str, Any], label: str) -> Constraint:
    given = [key for key in ("version", "branch", "rev") if entry.get(key)]
    if len(given) > 1:
        raise ManifestError(f"{label} gives both '{given[0]}' and '{given[1]}'; keep one.")
    if not given:
        return Constraint()
    key = given[0]
    value = entry[key].strip()
    if key == "branch":
        if not is_valid_branch_name(value) or parse_tag(value) is not None or is_commit(value):
            raise ManifestError(f"{label}: branch '{value}' is not a branch name salt-shaker can pin (it looks like a version or commit, or is not a valid ref).")
        return Constraint((Clause(op="==", value=value),))
    if key == "rev":
        if not is_commit(value):
            raise ManifestError(f"{label}: rev '{value}' is not a full 40-hex commit id.")
        return Constraint((Clause(op="==", value=value),))
    if value[:1] not in OPERATOR_CHARS:
        value = f"=={value}"
    return _constraint(value, label)
