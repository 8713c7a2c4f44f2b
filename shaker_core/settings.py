"""Settings: one name everywhere, validated once.

The command line merges ``<root_dir>/shaker.yml``, ``SHAKER_<NAME>`` environment
variables and flags; Salt merges the ``shaker:`` config mapping, pillar and
arguments. Both hand the result to :meth:`Settings.from_mapping`.
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from packaging.version import InvalidVersion, Version

from .errors import ConfigError
from .sources import DEFAULT_SOURCE_TEMPLATE, check_url, redact, url_for

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


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
    jobs: int = 8
    remote_check: bool = False
    keep_releases: int = 3
    offline: bool = False
    simulate: bool = False
    credentials: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    lock_timeout: float = 300.0
    git_timeout: float = 120.0
    max_formulas: int = 5000
    max_resolution_rounds: int = 10000
    max_manifest_bytes: int = 512 * 1024
    max_formula_bytes: int = 100 * 1024 * 1024  # real formulas are kilobytes; bounds the memory one export can take
    project_source: str | None = None
    project_branch: str = "main"
    auto_update: bool = False
    notify: Mapping[str, Any] = field(default_factory=dict)
    saltenv: str | None = None
    allowed_sources: tuple[str, ...] = ()
    salt_version: str | None = None
    strict_minimum_version: bool = False
    trigger: str = "cli"
    project_commit: str | None = None

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
                values[spec.name] = _convert(spec.name, mapping[spec.name], where(spec.name))
        settings = cls(**values)
        settings.validate(where)
        return settings

    def validate(self, where: Callable[[str], str] | str = "settings") -> None:
        """Refuse values that cannot work, naming the setting and where it came from."""
        if isinstance(where, str):
            where = _Where(where, {})
        for name in _POSITIVE:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{where(name)}: '{name}' must be at least 1, not {value}.")
        for name in _DURATIONS:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{where(name)}: '{name}' must be a number of seconds above 0, not {getattr(self, name)}.")
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
        if not isinstance(self.credentials, Mapping):
            raise ConfigError(f"{where('credentials')}: 'credentials' must be a mapping of source URL prefix to username/password or ssh_key.")

    # -- derived paths --

    @property
    def root(self) -> Path:
        """The absolute project directory."""
        return self.root_dir.expanduser().resolve()

    @property
    def project_dir(self) -> Path:
        """Where metadata.yml and the lock live: ``root_dir``, or the published project repository."""
        return self.root / "vendor" / "_project" if self.project_source else self.root

    @property
    def manifest_path(self) -> Path:
        return self.project_dir / "metadata.yml"

    @property
    def lock_path(self) -> Path:
        """``formula-requirements.txt``, or ``formula-requirements.<saltenv>.txt`` for a saltenv other than base."""
        if self.saltenv and self.saltenv != "base":
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
    """``project: {source, branch}`` -> ``project_source``, ``project_branch``."""
    project = mapping.get("project")
    if project is None:
        return mapping
    if not isinstance(project, Mapping) or not project.get("source"):
        raise ConfigError(f"{origin}: 'project' must be a mapping with 'source' (the project repository URL) and optional 'branch'.")
    flat = dict(mapping)
    flat["project_source"] = project["source"]
    flat["project_branch"] = project.get("branch") or "main"
    return flat


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


_POSITIVE = ("jobs", "keep_releases", "max_formulas", "max_resolution_rounds", "max_manifest_bytes", "max_formula_bytes")
_DURATIONS = ("lock_timeout", "git_timeout")  # 'not > 0' also refuses nan
_PATHS = {"root_dir", "cache_dir"}
_BOOLS = {"remote_check", "offline", "simulate", "auto_update", "strict_minimum_version"}
_INTS = {"jobs", "keep_releases", "max_formulas", "max_resolution_rounds", "max_manifest_bytes", "max_formula_bytes"}
_FLOATS = {"lock_timeout", "git_timeout"}


def _convert(name: str, value: Any, origin: str) -> Any:
    try:
        if name in _PATHS:
            return Path(str(value))
        if name in _BOOLS:
            return _to_bool(value)
        if name in _INTS:
            return _to_number(value, int)
        if name in _FLOATS:
            return _to_number(value, float)
    except ValueError:
        raise ConfigError(f"{origin}: '{name}' has the value {value!r}; {_expected(name)}.") from None
    if name == "allowed_sources":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{origin}: 'allowed_sources' must be a list of URL prefixes, like ['https://git.example.com/', 'file:///srv/forge/'].")
        if not value:  # fail closed: an empty list would allow every source, the opposite of what it says
            raise ConfigError(f"{origin}: 'allowed_sources' is an empty list, which would allow no source at all; "
                              "list the URL prefixes to allow, or remove the setting to allow any source.")
        return tuple(value)
    if name == "notify" and not isinstance(value, Mapping):
        raise ConfigError(f"{origin}: 'notify' must be a mapping with 'urls' and optional 'commit_status'.")
    if name == "saltenv" and not (isinstance(value, str) and value.replace("-", "").replace("_", "").isalnum()):
        raise ConfigError(f"{origin}: 'saltenv' must be a Salt environment name like base or dev.")
    if name == "salt_version" and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = getattr(value, "raw", "") or str(value)  # salt_version: 3006.0 unquoted is read by YAML as a number
    if name in ("source_template", "trigger", "project_source", "project_branch", "salt_version") and not isinstance(value, str):
        raise ConfigError(f"{origin}: '{name}' must be a string.")
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


def _expected(name: str) -> str:
    if name in _BOOLS:
        return "use true or false"
    if name in _INTS:
        return "use a whole number"
    return "use a finite number"
