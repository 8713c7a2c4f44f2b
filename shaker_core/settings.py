"""Settings: one name everywhere, validated once.

The command line merges ``<root_dir>/shaker.yml``, ``SHAKER_<NAME>`` environment
variables and flags; Salt merges the ``shaker:`` config mapping, pillar and
arguments. Both hand the result to :meth:`Settings.from_mapping`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError
from .sources import DEFAULT_SOURCE_TEMPLATE, check_url, redact, url_for

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


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
    max_formula_bytes: int | None = None
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
    def from_mapping(cls, mapping: Mapping[str, Any], origin: str = "settings") -> Settings:
        """Validate and convert a mapping of settings; unknown keys are ignored."""
        values: dict[str, Any] = {}
        mapping = _flatten_project(mapping, origin)
        for spec in fields(cls):
            if spec.name in mapping and mapping[spec.name] is not None:
                values[spec.name] = _convert(spec.name, mapping[spec.name], origin)
        settings = cls(**values)
        settings.validate(origin)
        return settings

    def validate(self, origin: str = "settings") -> None:
        """Refuse values that cannot work, naming the setting."""
        if "{org}" not in self.source_template and "{formula}" not in self.source_template:
            raise ConfigError(f"{origin}: 'source_template' must contain {{org}} and {{name}} (or {{formula}}), like 'git@github.com:{{org}}/{{name}}.git'.")
        try:
            example = url_for("org/name", self.source_template)
        except (KeyError, IndexError, ValueError):
            raise ConfigError(f"{origin}: 'source_template' may only use the placeholders {{org}}, {{name}} and {{formula}}; write other braces twice ({{{{ }}}}).") from None
        for name, url, shown in (("source_template", example, self.source_template), ("project_source", self.project_source, self.project_source)):
            reason = check_url(url) if url is not None else None
            if reason:
                raise ConfigError(f"{origin}: '{name}' ({redact(shown or '')}) {reason}.")
        if self.jobs < 1:
            raise ConfigError(f"{origin}: 'jobs' must be at least 1.")
        if self.keep_releases < 1:
            raise ConfigError(f"{origin}: 'keep_releases' must be at least 1.")
        if not isinstance(self.credentials, Mapping):
            raise ConfigError(f"{origin}: 'credentials' must be a mapping of source URL prefix to username/password or ssh_key.")

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
    return kind(value)


def _expected(name: str) -> str:
    if name in _BOOLS:
        return "use true or false"
    if name in _INTS:
        return "use a whole number"
    return "use a number"
