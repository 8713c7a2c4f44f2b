"""Settings: one name everywhere, validated once.

The command line merges ``<root_dir>/shaker.yml``, ``SHAKER_<NAME>`` environment
variables and flags; Salt merges the ``shaker:`` config mapping, pillar and
arguments. Both hand the result to :meth:`Settings.from_mapping`.
"""
from __future__ import annotations

import math
import string
import types
import typing
from collections import abc
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from packaging.version import InvalidVersion, Version

from .errors import ConfigError
from .sources import DEFAULT_SOURCE_TEMPLATE, check_url, redact, url_for
from .trust import check_trust

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


AT_LEAST_ONE = {"at_least": 1}
SECONDS = {"seconds": True}  # a duration: a finite number above 0


class Named(Protocol):
    """A requirement or a lock entry: a formula name and, maybe, its own source."""

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str | None: ...


@dataclass(frozen=True)
class Settings:
    """Everything a use case needs to know about where and how to work."""

    root_dir: Path = Path(".")
    cache_dir: Path | None = None
    source_template: str = DEFAULT_SOURCE_TEMPLATE
    jobs: int = field(default=8, metadata=AT_LEAST_ONE)
    remote_check: bool = False
    keep_releases: int = field(default=3, metadata=AT_LEAST_ONE)
    offline: bool = False
    simulate: bool = False
    credentials: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, metadata={
        "shape": "a mapping of source URL prefix to username/password or ssh_key"})
    lock_timeout: float = field(default=300.0, metadata=SECONDS)
    git_timeout: float = field(default=120.0, metadata=SECONDS)
    max_formulas: int = field(default=5000, metadata=AT_LEAST_ONE)
    max_resolution_rounds: int = field(default=10000, metadata=AT_LEAST_ONE)
    max_manifest_bytes: int = field(default=512 * 1024, metadata=AT_LEAST_ONE)
    # real formulas are kilobytes; bounds the memory one export can take
    max_formula_bytes: int = field(default=100 * 1024 * 1024, metadata=AT_LEAST_ONE)
    project_source: str | None = None
    project_branch: str = "main"
    # environments from branches: every project branch matching one of these globs is a saltenv; project_base is base
    project_branches: tuple[str, ...] = field(default=(), metadata={"check": lambda value, origin: _branch_globs(value, origin)})
    project_base: str = "main"
    auto_update: bool = False
    notify: Mapping[str, Any] = field(default_factory=dict, metadata={"shape": "a mapping with 'urls' and optional 'commit_status'"})
    saltenv: str | None = field(default=None, metadata={"check": lambda value, origin: _saltenv_name(value, origin)})
    allowed_sources: tuple[str, ...] = field(default=(), metadata={"check": lambda value, origin: _url_prefixes(value, origin)})
    salt_version: str | None = field(default=None, metadata={"check": lambda value, origin: _version_text(value)})
    strict_minimum_version: bool = False
    trust: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, metadata={
        "shape": "a mapping of source URL prefix to gpg_keys, ssh_allowed_signers and require", "check": check_trust})
    require_trust: bool = False
    metrics_file: Path | None = None  # Prometheus text format for node_exporter's textfile collector, rewritten after every run
    trigger: str = "cli"
    project_commit: str | None = None
    project_signer: str | None = None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], origin: str = "settings", origins: Mapping[str, str] | None = None) -> Settings:
        """Validate and convert a mapping of settings; unknown keys are ignored.

        ``origins`` says where each key came from (``shaker.yml``, ``SHAKER_JOBS``,
        ``--jobs``, the 'shaker' pillar, ...), so a message names the right place;
        ``origin`` stands for any key it does not name.
        """
        where = _Where(origin, origins or {})
        values: dict[str, Any] = {}
        mapping = _flatten_project(mapping, where("project"))
        for spec in fields(cls):
            if spec.name in mapping and mapping[spec.name] is not None:
                values[spec.name] = _convert(spec, mapping[spec.name], where(spec.name))
        settings = cls(**values)
        settings.validate(where)
        return settings

    def validate(self, where: Callable[[str], str] | str = "settings") -> None:
        """Refuse values that cannot work, naming the setting and where it came from."""
        if isinstance(where, str):
            where = _Where(where, {})
        for spec in fields(self):
            value = getattr(self, spec.name)
            if "at_least" in spec.metadata and value < spec.metadata["at_least"]:
                raise ConfigError(f"{where(spec.name)}: '{spec.name}' must be at least {spec.metadata['at_least']}, not {value}.")
            if spec.metadata.get("seconds") and not value > 0:  # 'not > 0' also refuses nan
                raise ConfigError(f"{where(spec.name)}: '{spec.name}' must be a number of seconds above 0, not {value}.")
        if self.strict_minimum_version and self.salt_version is not None and not _parses_as_version(self.salt_version):
            raise ConfigError(f"{where('salt_version')}: 'salt_version' ({self.salt_version}) is not a version like 3006.9; "
                              "strict_minimum_version compares with it.")
        self._validate_sources(where)

    def _validate_sources(self, where: Callable[[str], str]) -> None:
        origin = where("source_template")
        problem = template_problem(self.source_template)
        if problem is not None:
            raise ConfigError(f"{origin}: 'source_template' {problem}; it may only use the placeholders {{org}}, {{name}} and {{formula}}, "
                              "and other braces are written twice ({{ }}).")
        if "{org}" not in self.source_template and "{formula}" not in self.source_template:
            raise ConfigError(f"{origin}: 'source_template' must contain {{org}} and {{name}} (or {{formula}}), like 'git@github.com:{{org}}/{{name}}.git'.")
        try:
            example = url_for("org/name", self.source_template)
        except (KeyError, IndexError, ValueError, AttributeError):
            raise ConfigError(f"{origin}: 'source_template' may only use the placeholders {{org}}, {{name}} and {{formula}}; write other braces twice ({{{{ }}}}).") from None
        for name, url, shown in (("source_template", example, self.source_template), ("project_source", self.project_source, self.project_source)):
            reason = check_url(url) if url is not None else None
            if reason:
                raise ConfigError(f"{where(name)}: '{name}' ({redact(shown or '')}) {reason}.")

    # -- derived paths --

    @property
    def root(self) -> Path:
        """The absolute project directory."""
        return self.root_dir.expanduser().resolve()

    @property
    def branch_environments(self) -> bool:
        """Whether saltenvs come from the project repository's branches (``project: {branches: [...]}``)."""
        return bool(self.project_source and self.project_branches)

    @property
    def project_dir(self) -> Path:
        """Where metadata.yml and the lock live: ``root_dir``, or the published project repository (one per saltenv from branches)."""
        if self.branch_environments and self.saltenv:
            return self.root / "vendor" / "_projects" / self.saltenv
        return self.root / "vendor" / "_project" if self.project_source else self.root

    @property
    def manifest_path(self) -> Path:
        return self.project_dir / "metadata.yml"

    @property
    def lock_path(self) -> Path:
        """``formula-requirements.txt``, or ``formula-requirements.<saltenv>.txt`` for a declared saltenv other than base.

        A saltenv from a branch reads the branch's own ``formula-requirements.txt``.
        """
        if self.saltenv and self.saltenv != "base" and not self.branch_environments:
            return self.project_dir / f"formula-requirements.{self.saltenv}.txt"
        return self.project_dir / "formula-requirements.txt"

    @property
    def cache_path(self) -> Path:
        """Where mirrors live: ``cache_dir`` (relative to ``root_dir`` when relative) or ``<root_dir>/vendor/cache``."""
        return (self.root / self.cache_dir.expanduser()).resolve() if self.cache_dir else self.root / "vendor" / "cache"

    def default_source(self, name: str) -> str:
        """The URL ``org/name`` maps to under ``source_template``."""
        return url_for(name, self.source_template)

    def source_of(self, pinned: Named) -> str:
        """Where a requirement or lock entry comes from: its own ``source``, else the template's URL."""
        return pinned.source or self.default_source(pinned.name)


def _flatten_project(mapping: Mapping[str, Any], origin: str) -> Mapping[str, Any]:
    """``project: {source, branch}`` or ``{source, branches, base}`` -> ``project_source``, ``project_branch``, ``project_branches``, ``project_base``."""
    project = mapping.get("project")
    if project is None:
        return mapping
    if not isinstance(project, Mapping) or not project.get("source"):
        raise ConfigError(f"{origin}: 'project' must be a mapping with 'source' (the project repository URL) and optional 'branch', "
                          "or 'branches' and 'base' for environments from branches.")
    if project.get("branch") and project.get("branches"):
        raise ConfigError(f"{origin}: 'project' has both 'branch' (one branch, served at vendor/_root) and 'branches' "
                          "(every matching branch a saltenv); keep one.")
    flat = dict(mapping)
    flat["project_source"] = project["source"]
    flat["project_branch"] = project.get("branch") or project.get("base") or "main"
    flat["project_branches"] = project.get("branches")
    flat["project_base"] = project.get("base") or "main"
    return flat


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {
    Path: lambda value: Path(str(value)),
    bool: lambda value: _to_bool(value),
    int: lambda value: _to_number(value, int),
    float: lambda value: _to_number(value, float),
}
_EXPECTED = {bool: "use true or false", int: "use a whole number", float: "use a finite number"}
_HINTS = typing.get_type_hints(Settings)


class _Where:
    """Where a setting came from, for messages."""

    def __init__(self, default: str, origins: Mapping[str, str]) -> None:
        self.default = default
        self.origins = origins

    def __call__(self, name: str) -> str:
        if name == "project":
            return self.origins.get("project", self.origins.get("project_source", self.default))
        return self.origins.get(name, self.default)


PLACEHOLDERS = ("org", "name", "formula")


def template_problem(template: str) -> str | None:
    """What is wrong with a ``source_template``, in words; None when nothing is."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return "has an unbalanced brace"
    for _, field_name, format_spec, conversion in parts:
        if field_name is None:
            continue
        if field_name == "" or field_name.isdigit():
            return f"has a positional field ({{{field_name}}})"
        if "." in field_name or "[" in field_name:
            return f"has an attribute or index ({{{field_name}}})"
        if format_spec or conversion:
            return f"has a format spec or conversion ({{{field_name}{'!' + conversion if conversion else ''}{':' + format_spec if format_spec else ''}}})"
        if field_name not in PLACEHOLDERS:
            return f"has an unknown placeholder ({{{field_name}}})"
    return None


def _parses_as_version(text: str) -> bool:
    try:
        Version(text.split("+")[0])
    except InvalidVersion:
        return False
    return True


def _convert(spec: Field[Any], value: Any, origin: str) -> Any:
    """A setting's value as its field's type says (a path, a flag, a number, a string, a mapping), then its own check."""
    kind = _base_type(spec)
    name = spec.name
    if "check" in spec.metadata:
        value = spec.metadata["check"](value, origin)
    if kind in _CONVERTERS:
        try:
            return _CONVERTERS[kind](value)
        except ValueError:
            raise ConfigError(f"{origin}: '{name}' has the value {value!r}; {_EXPECTED.get(kind, 'use a finite number')}.") from None
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{origin}: '{name}' must be a string.")
    if kind is abc.Mapping and not isinstance(value, Mapping):
        raise ConfigError(f"{origin}: '{name}' must be {spec.metadata['shape']}.")
    return value


def _base_type(spec: Field[Any]) -> Any:
    """The type a field holds, without ``| None`` and type arguments: Path, bool, int, float, str, Mapping or tuple."""
    hint = _HINTS[spec.name]
    options = [option for option in typing.get_args(hint) if option is not type(None)] if isinstance(hint, types.UnionType) else [hint]
    return typing.get_origin(options[0]) or options[0]


def _saltenv_name(value: Any, origin: str) -> str:
    if not (isinstance(value, str) and value.replace("-", "").replace("_", "").isalnum()):
        raise ConfigError(f"{origin}: 'saltenv' must be a Salt environment name like base or dev.")
    return value


def _url_prefixes(value: Any, origin: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{origin}: 'allowed_sources' must be a list of URL prefixes, like ['https://git.example.com/', 'file:///srv/forge/'].")
    if not value:  # fail closed: an empty list would allow every source, the opposite of what it says
        raise ConfigError(f"{origin}: 'allowed_sources' is an empty list, which would allow no source at all; "
                          "list the URL prefixes to allow, or remove the setting to allow any source.")
    return tuple(value)


def _branch_globs(value: Any, origin: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{origin}: 'project: branches' must be a list of branch globs, like ['main', 'feature_*'] or ['*'].")
    return tuple(value)


def _version_text(value: Any) -> Any:
    """``salt_version: 3006.0`` unquoted is read by YAML as a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return getattr(value, "raw", "") or str(value)
    return value


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _to_number(value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise ValueError(value)
    number = kind(value)
    if kind is float and not math.isfinite(number):  # nan and inf are never a timeout
        raise ValueError(value)
    return number
