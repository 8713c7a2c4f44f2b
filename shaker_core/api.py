"""The use cases: install, install_pinned, update, sync, check, status, outdated, why, graph.

Each takes :class:`Settings`, computes a plan first and acts second (so
``simulate``, ``check`` and Salt's ``test=True`` are the same path with the act
step skipped), and returns a Report: plain data for every face.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import replace
from typing import Any, Callable, Mapping

from . import insight, lockfile, provenance, publishing
from .deploys import deployed
from .errors import LockFileError, ManifestError, ShakerError, UsageError
from .git import GitCache
from .layout import records_by_name
from .lockfile import LockFile
from .manifest import Manifest, manifest_from_document, parse_manifest
from .pinned import pinned_lock
from .plan import report_of, with_repair
from .reports import (
    EnvironmentsReport,
    GraphReport,
    OutdatedReport,
    PinData,
    PublishReport,
    Report,
    StatusReport,
    WhyReport,
    environments_report,
)
from .resolution import lock_from, lock_satisfies, moved_tags, preferred_refs, resolve_project, targeted_resolve
from .resolver import Resolution
from .session import Progress, git_cache, session, vendor_for
from .settings import Settings
from .userfiles import read_user_file
from .vendor import ROOT_LINK, Vendor

log = logging.getLogger(__name__)

__all__ = ["Progress", "Report", "git_cache", "vendor_for"]  # the faces and gitops use these through api


# -- use cases --


def install(settings: Settings, progress: Progress | None = None, project: Manifest | None = None) -> PublishReport | EnvironmentsReport:
    """Resolve metadata.yml to the newest allowed versions, write the lock, publish; each declared environment unless one is named."""
    if project is None and settings.saltenv is None and not settings.branch_environments:
        try:
            declared = sorted(parse_project(settings).environments)
        except ShakerError:
            declared = []  # read again below, where the failure is recorded as a deploy (and counted in the metrics)
        if declared:
            return each_environment("install", settings, declared, lambda named: _resolve_and_publish("install", named, progress))
    return _resolve_and_publish("install", settings, progress, project=project)


def each_environment(command: str, settings: Settings, saltenvs: list[str], run: Callable[[Settings], Report]) -> EnvironmentsReport:
    """Run ``run`` for each saltenv; one that fails is its own report and does not stop the others."""
    reports: dict[str, Any] = {}
    for saltenv in saltenvs:
        try:
            reports[saltenv] = run(replace(settings, saltenv=saltenv))
        except ShakerError as exc:
            reports[saltenv] = {**exc.failure(command), "saltenv": saltenv}
    return environments_report(command, reports, [])


def update(settings: Settings, names: list[str] | None = None, progress: Progress | None = None, project: Manifest | None = None) -> PublishReport:
    """Move ``names`` (all when empty) to the newest allowed versions; keep the rest where allowed."""
    return _resolve_and_publish("update", settings, progress, names=names or None, project=project)


def sync(settings: Settings, progress: Progress | None = None, project: Manifest | None = None, update: bool = False) -> PublishReport:
    """Make the served root match the declaration: publish the lock while it satisfies it, else re-resolve.

    With ``update`` every formula moves to its newest allowed version. This is
    what the ``shaker.pinned`` state and a reconcile do.
    """
    project = project or read_project(settings)
    if update:
        return _resolve_and_publish("sync", settings, progress, project=project)
    old = lockfile.read(settings.lock_path)
    if old and lock_satisfies(settings, project, old):
        report = install_pinned(settings, progress)
    else:
        report = _resolve_and_publish("sync", settings, progress, project=project, keep_locked=True)
    report["command"] = "sync"
    return report


def check(settings: Settings, progress: Progress | None = None, project: Manifest | None = None) -> PublishReport:
    """What ``install`` would change in the lock, writing nothing."""
    report = _resolve_and_publish("check", replace(settings, simulate=True), progress, project=project)
    report["pending"] = report["lock_changed"]
    return report


@deployed
def install_pinned(settings: Settings, progress: Progress | None = None, cache: GitCache | None = None) -> PublishReport:
    """Publish exactly what formula-requirements.txt pins; never re-resolve. ``cache``: a mirror cache the caller shares between runs."""
    with session(settings, "always" if settings.remote_check else "missing", progress, cache) as (cache, vendor):
        old = lockfile.read(settings.lock_path)
        if not old:
            raise LockFileError(
                f"{settings.lock_path.name} in {settings.root} is missing or empty; run `salt-shaker install` to create it (nothing was changed)."
            )
        new, warnings = pinned_lock(settings, cache, old)
        return _publish("install_pinned", settings, cache, vendor, old, new, warnings)


def status(settings: Settings) -> StatusReport:
    """What ``vendor/_root`` serves against what the lock pins."""
    if not settings.root.is_dir():
        # A mistyped root_dir must not read as "a project with nothing served".
        raise UsageError(f"root_dir {settings.root} does not exist; pass the project directory that holds metadata.yml and formula-requirements.txt.")
    vendor = vendor_for(settings)
    if settings.saltenv and (vendor.path / ROOT_LINK).is_symlink():
        raise UsageError(f"saltenv '{settings.saltenv}' was given, but {vendor.path / ROOT_LINK} serves one environment (a link to a release); "
                         "drop --saltenv (or the saltenv setting).")
    lock = lockfile.read(settings.lock_path)
    release = vendor.current_id()
    served = records_by_name(vendor.release_info(release) if release else None)
    with git_cache(replace(settings, offline=True), "missing") as cache:
        tree = publishing.served_damage(vendor, release, publishing.tree_check(cache))
    pinned: dict[str, PinData] = {e.name: {"ref": e.ref, "commit": e.commit} for e in lock.entries}
    differences = {
        name: {"pinned": pinned.get(name), "served": _ref_commit(served.get(name))}
        for name in sorted(set(pinned) | set(served))
        if _ref_commit(served.get(name)) != pinned.get(name)
    }
    return {
        "command": "status",
        "success": True,
        "root_dir": str(settings.root),
        "saltenv": settings.saltenv,
        "lock_file": settings.lock_path.name,
        "release": release,
        "formulas": {name: _ref_commit(record) for name, record in sorted(served.items())},
        "in_sync": bool(release) and not differences and not tree,
        "differences": differences,
        "tree": tree.as_dict(),
        "releases": [info.release for info in vendor.history()],
    }


def outdated(settings: Settings, progress: Progress | None = None, project: Manifest | None = None) -> OutdatedReport:
    """Each locked formula's locked tag, the newest its constraints allow, and the newest tag at all."""
    project = project or read_project(settings)
    lock = lockfile.read(settings.lock_path)
    with session(replace(settings, simulate=True), "always", progress) as (cache, _):
        wanted = resolve_project(project, cache, settings, None)
        tags = {e.name: cache.versions(settings.source_of(e)) for e in lock.entries if e.kind == "tag"}
    rows = insight.outdated(lock, wanted, tags)
    return {"command": "outdated", "success": True, "root_dir": str(settings.root), "formulas": rows,
            "pending": any(row["outdated"] for row in rows)}


def why(settings: Settings, name: str, project: Manifest | None = None) -> WhyReport:
    """Every chain of requirements that brings ``name`` in, with the constraint at each step."""
    resolution = locked_resolution(settings, project)
    if name not in resolution.pins:
        raise UsageError(f"{name} is not in the resolved graph of {settings.root}; check the name (org/name-formula).")
    chains = insight.why(resolution, name)
    return {"command": "why", "success": True, "formula": name, "locked": resolution.pins[name].ref,
            "chains": chains, "lines": [insight.format_chain(chain) for chain in chains]}


def graph(settings: Settings, fmt: str = "text", project: Manifest | None = None) -> GraphReport:
    """The resolved dependency graph, as an indented tree or Graphviz DOT."""
    if fmt not in ("text", "dot"):
        raise UsageError(f"Unknown graph format '{fmt}'; use text or dot.")
    resolution = locked_resolution(settings, project)
    lines = insight.graph_dot(resolution) if fmt == "dot" else insight.graph_text(resolution)
    return {"command": "graph", "success": True, "format": fmt, "lines": lines}


def locked_resolution(settings: Settings, project: Manifest | None = None) -> Resolution:
    """The graph as the lock pins it, read from the cache (fetching only missing mirrors)."""
    project = project or read_project(settings)
    lock = lockfile.read(settings.lock_path)
    with session(replace(settings, simulate=True), "missing", None) as (cache, _):
        return resolve_project(project, cache, settings, preferred_refs(lock, None, keep_locked=True))


# -- resolution --


def read_project(settings: Settings) -> Manifest:
    """The project's metadata.yml, for the saltenv of the settings; a missing file is a clear error."""
    return _for_saltenv(parse_project(settings), settings)


def parse_project(settings: Settings) -> Manifest:
    """The project's metadata.yml as it is (every declared environment)."""
    path = settings.manifest_path
    data = read_user_file(path, settings.max_manifest_bytes, ManifestError, "max_manifest_bytes")
    if data is None:
        raise ManifestError(f"{path.name} not found in {settings.root}; create it, or run `salt-shaker install-pinned-versions` to install from the lock.")
    return parse_manifest(data, path.name, max_bytes=settings.max_manifest_bytes)


def _for_saltenv(project: Manifest, settings: Settings) -> Manifest:
    if settings.branch_environments:
        if project.environments:
            raise UsageError(f"{settings.manifest_path.name} of saltenv '{settings.saltenv}' declares 'environments:', but environments come "
                             "from branches here: each branch's metadata.yml lists that environment's dependencies; remove 'environments:'.")
        return project
    if project.environments and not settings.saltenv:
        known = ", ".join(sorted(project.environments))
        raise UsageError(f"{settings.manifest_path.name} declares environments ({known}); name one with saltenv (--saltenv).")
    if settings.saltenv and not project.environments:
        # without this, vendor/_root would become a directory of saltenv links the master does not expect
        raise UsageError(f"saltenv '{settings.saltenv}' was given, but {settings.manifest_path.name} declares no 'environments:'; "
                         "drop --saltenv (or the saltenv setting), or declare the environment under 'environments:'.")
    return project.for_saltenv(settings.saltenv)


def project_from_dependencies(dependencies: list[Any], settings: Settings) -> Manifest:
    """A project Manifest from a list of dependency entries (the shaker.pinned state's form)."""
    return manifest_from_document({"dependencies": dependencies}, "shaker.pinned dependencies")


@deployed
def _resolve_and_publish(
    command: str,
    settings: Settings,
    progress: Progress | None,
    *,
    names: list[str] | None = None,
    project: Manifest | None = None,
    keep_locked: bool = False,
) -> PublishReport:
    project = project or read_project(settings)
    # a targeted update fetches the named formulas, and whatever else ends up moving, not every mirror
    with session(settings, "missing" if names else "always", progress) as (cache, vendor):
        old = lockfile.read(settings.lock_path)
        preferred = preferred_refs(old, names, keep_locked)
        if names:
            resolution = targeted_resolve(project, cache, settings, preferred, old, names)
        else:
            resolution = resolve_project(project, cache, settings, preferred)
        new = lock_from(resolution, settings)
        warnings = [*resolution.warnings, *moved_tags(old, new, settings)]
        return _publish(command, settings, cache, vendor, old, new, warnings)


# -- publishing --


def _publish(command: str, settings: Settings, cache: GitCache, vendor: Vendor, old: LockFile, new: LockFile, warnings: list[str]) -> PublishReport:
    """Verify ``new`` under ``trust``, plan its publish, then apply it unless simulating or nothing is to be built."""
    new, signer_warnings = provenance.attest(settings, cache, old, new, signer_may_change=command != "install_pinned" or settings.remote_check)
    warnings = [*warnings, *signer_warnings]
    plan = publishing.plan_for(command, settings, cache, vendor, old, new, warnings)
    report = functools.partial(report_of, simulate=settings.simulate, root_dir=str(settings.root), saltenv=settings.saltenv)
    if settings.simulate or plan.layout is None:
        return report(plan)
    release, repaired = publishing.apply(plan, settings, cache, vendor)
    return report(with_repair(plan, repaired), published=release != plan.served_release, release=release)


def _ref_commit(record: Mapping[str, Any] | None) -> PinData | None:
    return None if record is None else {"ref": record.get("ref", ""), "commit": record.get("commit")}


