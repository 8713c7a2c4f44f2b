"""SPM's ``FORMULA`` file, as the saltstack-formulas organisation ships it. Pure.

    name: apache
    version: 201506
    top_level_dir: apache
    minimum_version: 2016.11
    dependencies: php, mysql

``top_level_dir`` is the formula's export; each name in ``dependencies``
becomes an unconstrained dependency on ``<same org>/<name>-formula``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable

from packaging.version import InvalidVersion, Version

from .errors import ManifestError
from .manifest import Manifest, Requirement, parse_manifest
from .yamlsafe import DEFAULT_MAX_BYTES, load_yaml

FILENAME = "FORMULA"
MANIFEST_FILE = "metadata.yml"
_DEP_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class FormulaFile:
    """What a FORMULA file says."""

    name: str | None
    version: str | None
    top_level_dir: str | None
    minimum_version: str | None
    dependencies: tuple[str, ...]

    def requirements(self, org: str) -> tuple[Requirement, ...]:
        """Its dependencies as unconstrained requirements on ``<org>/<name>-formula``."""
        names = [d if d.endswith("-formula") else f"{d}-formula" for d in self.dependencies]
        return tuple(Requirement(name=f"{org}/{name}", text=f"{org}/{name}") for name in names)


def parse(data: bytes | str, path: str = FILENAME, max_bytes: int = DEFAULT_MAX_BYTES) -> FormulaFile:
    """Read a FORMULA file; unusable values are a ManifestError naming the key."""
    document = load_yaml(data, path, max_bytes)
    if not isinstance(document, dict):
        raise ManifestError(f"{path} must be a mapping of 'key: value' lines (name, version, top_level_dir, dependencies).")
    top = _text(document.get("top_level_dir"))
    if top is not None and (not _DEP_RE.match(top) or ".." in top):
        raise ManifestError(f"{path}: top_level_dir '{top}' is not a safe directory name.")
    return FormulaFile(
        name=_text(document.get("name")),
        version=_text(document.get("version")),
        top_level_dir=top,
        minimum_version=_text(document.get("minimum_version")),
        dependencies=_dependencies(document.get("dependencies"), path),
    )


def manifest_at(read: Callable[[str], bytes | None], commit: str, label: str, *, org: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Manifest:
    """A formula's manifest at ``commit``: its metadata.yml, completed from its FORMULA file when that names no exports.

    ``read`` gives a file's bytes at the commit (None when absent); ``label`` names the formula in messages.
    """
    data = read(MANIFEST_FILE)
    if data is None:
        manifest = Manifest(path=f"{label}@{commit[:12]}:{MANIFEST_FILE}")
    else:
        manifest = parse_manifest(data, f"{MANIFEST_FILE} at {commit[:12]}", root=False, max_bytes=max_bytes)
    formula = read(FILENAME) if not manifest.exports else None
    if formula is None:
        return manifest
    return merge(manifest, parse(formula, f"{FILENAME} at {commit[:12]}", max_bytes=max_bytes), org)


def merge(manifest: Manifest, formula: FormulaFile, org: str) -> Manifest:
    """A metadata.yml without exports (or none at all) completed from the FORMULA file."""
    if manifest.exports:
        return manifest
    known = {r.name for r in manifest.requirements}
    extra = tuple(r for r in formula.requirements(org) if r.name not in known)
    return replace(
        manifest,
        exports=(formula.top_level_dir,) if formula.top_level_dir else manifest.exports,
        requirements=manifest.requirements + extra,
        declared_version=manifest.declared_version or formula.version,
        minimum_salt=formula.minimum_version,
    )


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(getattr(value, "raw", "") or value).strip()


def _dependencies(value: object, path: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    names = tuple(str(item).strip() for item in items if str(item).strip())
    for name in names:
        if not _DEP_RE.match(name):
            raise ManifestError(f"{path}: dependency '{name}' is not a formula name; list names like 'php, mysql'.")
    return names


def installed_salt_version() -> str | None:
    """The version of the Salt installed beside salt-shaker (read from its package metadata; salt is not imported)."""
    import importlib.metadata  # only when a FORMULA names a minimum_version: the import costs 50 ms at every start

    try:
        return importlib.metadata.version("salt")
    except importlib.metadata.PackageNotFoundError:
        return None


def salt_too_old(minimum: str | None, running: str | None) -> bool:
    """Whether the running Salt is older than a FORMULA's ``minimum_version``."""
    if not minimum or not running:
        return False
    try:
        return Version(running.split("+")[0]) < Version(minimum)
    except InvalidVersion:
        return False
