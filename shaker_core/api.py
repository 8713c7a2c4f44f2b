"""The use cases: install, install_pinned, update, sync, check, status, outdated, why, graph.

Each takes :class:`Settings`, computes a plan first and acts second (so
``simulate``, ``check`` and Salt's ``test=True`` are the same path with the act
step skipped), and returns a Report: plain data for every face.
"""
from __future__ import annotations

import functools
import logging
import os
import time
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterator, Mapping

from . import insight, lockfile, notify, publishing, records
from .errors import GitError, LimitExceeded, LockFileError, ManifestError, ResolutionError, ShakerError, UsageError
from .git import Credentials, GitCache
from .layout import records_by_name
from .lockfile import LockEntry, LockFile
from .manifest import Manifest, manifest_from_document, parse_manifest
from .plan import report_of, with_repair
from .resolver import Resolution, resolve
from .settings import Settings
from .sources import redact
from .userfiles import read_user_file
from .vendor import ROOT_LINK, Vendor

log = logging.getLogger(__name__)

Report = dict[str, Any]
Progress = Callable[[str, int, int], None]


# -- use cases --


def install(settings: Settings, progress: Progress | None = None, project: Manifest | None = None) -> Report:
    """Resolve metadata.yml to the newest allowed versions, write the lock, publish."""
    return _resolve_and_publish("install", settings, progress, project=project)


def update(settings: Settings, names: list[str] | None = None, progress: Progress | None = None, project: Manifest | None = None) -> Report:
    """Move ``names`` (all when empty) to the newest allowed versions; keep the rest where allowed."""
    return _resolve_and_publish("update", settings, progress, names=names or None, project=project)


def sync(settings: Settings, progress: Progress | None = None, project: Manifest | None = None, update: bool = False) -> Report:
    """Make the served root match the declaration: publish the lock while it satisfies it, else re-resolve.

    With ``update`` every formula moves to its newest allowed version. This is
    what the ``shaker.pinned`` state and a reconcile do.
    """
    project = project or read_project(settings)
    if update:
        return _resolve_and_publish("sync", settings, progress, project=project)
    old = lockfile.read(settings.lock_path)
    if old and _lock_satisfies(settings, project, old):
        report = install_pinned(settings, progress)
    else:
        report = _resolve_and_publish("sync", settings, progress, project=project, keep_locked=True)
    report["command"] = "sync"
    return report


def check(settings: Settings, progress: Progress | None = None, project: Manifest | None = None) -> Report:
    """What ``install`` would change in the lock, writing nothing."""
    report = _resolve_and_publish("check", replace(settings, simulate=True), progress, project=project)
    report["pending"] = report["lock_changed"]
    return report


def _deployed(use_case: Callable[..., Report]) -> Callable[..., Report]:
    """Write a deploy record (and send notifications) for every run that is not simulated."""

    @functools.wraps(use_case)
    def run(*args: Any, **kwargs: Any) -> Report:
        settings = next(arg for arg in args if isinstance(arg, Settings))
        if settings.simulate:
            return use_case(*args, **kwargs)
        started = time.time()
        try:
            report = use_case(*args, **kwargs)
        except ShakerError as exc:
            command = args[0] if isinstance(args[0], str) else use_case.__name__
            record_deploy(settings, started, exc.failure(command))
            raise
        record_deploy(settings, started, report)
        return report

    return run


def record_deploy(settings: Settings, started: float, report: Report) -> None:
    """Write the deploy record of a run (success or failure) and send what ``notify`` asks for."""
    vendor = vendor_for(settings).path
    if not settings.root.is_dir() or (not report.get("published") and not os.access(vendor if vendor.is_dir() else settings.root, os.W_OK)):
        return  # a read-only project that nothing was written to: no record to keep
    record = {
        "command": report.get("command"),
        "trigger": settings.trigger,
        "project_commit": settings.project_commit,
        "started": started,
        "finished": time.time(),
        "success": bool(report.get("success")),
        "release": report.get("release"),
        "published": bool(report.get("published")),
        "formulas": report.get("formulas", {}),
        "message": report.get("message"),
        "pid": os.getpid(),
    }
    try:
        records.write_deploy(vendor, record)
    except OSError as exc:  # a full disk must not turn the run's own error into a traceback
        log.warning("Could not write the deploy record in %s: %s", vendor, exc.strerror or exc)
    sent = notify.notify(settings.notify, vendor, {**report, "trigger": settings.trigger}, settings.project_commit)
    if sent:
        report["notifications"] = sent


@_deployed
def install_pinned(settings: Settings, progress: Progress | None = None) -> Report:
    """Publish exactly what formula-requirements.txt pins; never re-resolve."""
    with _session(settings, "always" if settings.remote_check else "missing", progress) as (cache, vendor):
        old = lockfile.read(settings.lock_path)
        if not old:
            raise LockFileError(
                f"{settings.lock_path.name} in {settings.root} is missing or empty; run `salt-shaker install` to create it (nothing was changed)."
            )
        new, warnings = _pinned_lock(settings, cache, old)
        return _publish("install_pinned", settings, cache, vendor, old, new, warnings)


def status(settings: Settings) -> Report:
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
    pinned = {e.name: {"ref": e.ref, "commit": e.commit} for e in lock.entries}
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


def outdated(settings: Settings, progress: Progress | None = None, project: Manifest | None = None) -> Report:
    """Each locked formula's locked tag, the newest its constraints allow, and the newest tag at all."""
    project = project or read_project(settings)
    lock = lockfile.read(settings.lock_path)
    with _session(replace(settings, simulate=True), "always", progress) as (cache, _):
        wanted = _resolve(project, cache, settings, None)
        tags = {e.name: cache.versions(settings.source_of(e)) for e in lock.entries if e.kind == "tag"}
    rows = insight.outdated(lock, wanted, tags)
    return {"command": "outdated", "success": True, "root_dir": str(settings.root), "formulas": rows,
            "pending": any(row["outdated"] for row in rows)}


def why(settings: Settings, name: str, project: Manifest | None = None) -> Report:
    """Every chain of requirements that brings ``name`` in, with the constraint at each step."""
    resolution = locked_resolution(settings, project)
    if name not in resolution.pins:
        raise UsageError(f"{name} is not in the resolved graph of {settings.root}; check the name (org/name-formula).")
    chains = insight.why(resolution, name)
    return {"command": "why", "success": True, "formula": name, "locked": resolution.pins[name].ref,
            "chains": chains, "lines": [insight.format_chain(chain) for chain in chains]}


def graph(settings: Settings, fmt: str = "text", project: Manifest | None = None) -> Report:
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
    with _session(replace(settings, simulate=True), "missing", None) as (cache, _):
        return _resolve(project, cache, settings, _preferred(lock, None, keep_locked=True))


# -- resolution --


def read_project(settings: Settings) -> Manifest:
    """The project's metadata.yml; a missing file is a clear error."""
    path = settings.manifest_path
    data = read_user_file(path, settings.max_manifest_bytes, ManifestError, "max_manifest_bytes")
    if data is None:
        raise ManifestError(f"{path.name} not found in {settings.root}; create it, or run `salt-shaker install-pinned-versions` to install from the lock.")
    return _for_saltenv(parse_manifest(data, path.name, max_bytes=settings.max_manifest_bytes), settings)


def _for_saltenv(project: Manifest, settings: Settings) -> Manifest:
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


@_deployed
def _resolve_and_publish(
    command: str,
    settings: Settings,
    progress: Progress | None,
    *,
    names: list[str] | None = None,
    project: Manifest | None = None,
    keep_locked: bool = False,
) -> Report:
    project = project or read_project(settings)
    # a targeted update fetches the named formulas, and whatever else ends up moving, not every mirror
    with _session(settings, "missing" if names else "always", progress) as (cache, vendor):
        old = lockfile.read(settings.lock_path)
        preferred = _preferred(old, names, keep_locked)
        if names:
            resolution = _targeted_resolve(project, cache, settings, preferred, old, names)
        else:
            resolution = _resolve(project, cache, settings, preferred)
        new = _lock_from(resolution, settings)
        warnings = [*resolution.warnings, *_moved_tags(old, new, settings)]
        return _publish(command, settings, cache, vendor, old, new, warnings)


def _moved_tags(old: LockFile, new: LockFile, settings: Settings) -> list[str]:
    """A tag that now names another commit than the lock: an error, or with a remote check a warning (as for a pinned install)."""
    before = {entry.name: entry for entry in old.entries}
    warnings: list[str] = []
    for entry in new.entries:
        locked = before.get(entry.name)
        if (locked is None or entry.kind != "tag" or locked.kind != "tag" or locked.ref != entry.ref or not locked.commit
                or locked.commit == entry.commit or settings.source_of(locked) != settings.source_of(entry)):
            continue
        if not settings.remote_check:
            raise GitError(
                f"{entry.name}: tag {entry.ref} now points at {(entry.commit or '')[:12]}, but the lock pins {locked.commit[:12]}; "
                "run with --enable-remote-check (remote_check) to accept the move, or restore the tag."
            )
        warnings.append(f"{entry.name}: tag {entry.ref} moved from {locked.commit[:12]} to {(entry.commit or '')[:12]}; the lock now pins the new commit.")
    return warnings


def _targeted_resolve(project: Manifest, cache: GitCache, settings: Settings, preferred: Mapping[str, str] | None,
                      old: LockFile, names: list[str]) -> Resolution:
    """Resolve an ``update NAME`` fetching the named formulas, then until every formula that moves off its
    lock was chosen from a freshly fetched mirror.

    A formula that stays at its locked ref needs no fresh tags; one that moves (or is new) must be
    picked from what its source has now, as a full ``install`` would. When the cached tags cannot
    satisfy the new constraints at all, every locked mirror is fetched and the resolution runs again.
    """
    fresh = {settings.source_of(e) for e in old.entries if e.name in names}
    cache.refresh(sorted(fresh))
    try:
        resolution = _resolve(project, cache, settings, preferred, fresh)
    except ResolutionError as exc:
        if isinstance(exc, LimitExceeded):
            raise
        cache.refresh(settings.source_of(e) for e in old.entries)
        resolution = _resolve(project, cache, settings, preferred)
    locked = {(e.name, e.ref) for e in old.entries}
    for _ in range(10):
        stale = {pin.source for pin in resolution.pins.values() if (pin.name, pin.ref) not in locked and not cache.fetched_this_run(pin.source)}
        if not stale:
            return resolution
        cache.refresh(sorted(stale))
        resolution = _resolve(project, cache, settings, preferred, fresh)
    return resolution


def _resolve(project: Manifest, cache: GitCache, settings: Settings, preferred: Mapping[str, str] | None,
             fresh: set[str] | None = None) -> Resolution:
    if len({r.name for r in project.requirements if r.name != project.name}) > settings.max_formulas:  # before a single fetch starts
        raise LimitExceeded(f"The dependency graph names more than {settings.max_formulas} formulas; raise the 'max_formulas' setting if that is intended.")
    cache.prefetch(settings.source_of(r) for r in project.requirements)
    return resolve(
        project,
        _PrefetchingIndex(cache, settings, fresh),
        settings.default_source,
        preferred=preferred,
        max_rounds=settings.max_resolution_rounds,
        max_formulas=settings.max_formulas,
    )


def _preferred(old: LockFile, names: list[str] | None, keep_locked: bool) -> dict[str, str] | None:
    """Refs to keep: all locked ones (``keep_locked``), all but ``names``, or none."""
    locked = old.by_name()
    if keep_locked:
        return {name: entry.ref for name, entry in locked.items()}
    if not names:
        return None
    unknown = [name for name in names if name not in locked]
    if unknown:
        raise UsageError(f"{unknown[0]} is not in formula-requirements.txt; name a locked formula, or run `salt-shaker install`.")
    return {name: entry.ref for name, entry in locked.items() if name not in names}


def _lock_satisfies(settings: Settings, project: Manifest, old: LockFile) -> bool:
    """Whether the lock still satisfies the declaration, judged from the cache (fetching only missing mirrors)."""
    cache = git_cache(settings, "missing")
    try:
        with cache:
            resolution = _resolve(project, cache, settings, _preferred(old, None, keep_locked=True))
    except ShakerError as exc:
        log.debug("the lock does not satisfy the declaration: %s", exc)
        return False
    pinned = {(p.name, p.ref) for p in resolution.pins.values()}
    return pinned == {(e.name, e.ref) for e in old.entries}


def _lock_from(resolution: Resolution, settings: Settings) -> LockFile:
    return lockfile.make(
        LockEntry(pin.name, pin.ref, pin.commit, None if pin.source == settings.default_source(pin.name) else pin.source)
        for pin in resolution.pins.values()
    )


class _PrefetchingIndex:
    """The git cache as the resolver's Index, starting fetches of a manifest's dependencies as soon as it is read.

    ``fresh`` (a targeted update) holds the sources that must be fetched whatever the policy: the named
    formulas and, as their manifests are read, everything they depend on.
    """

    def __init__(self, cache: GitCache, settings: Settings, fresh: set[str] | None = None) -> None:
        self.cache = cache
        self.settings = settings
        self.fresh = fresh

    def versions(self, source: str) -> Mapping[str, str]:
        return self.cache.versions(source)

    def branches(self, source: str) -> Mapping[str, str]:
        return self.cache.branches(source)

    def manifest_at(self, source: str, commit: str) -> Manifest:
        manifest = self.cache.manifest_at(source, commit)
        children = [self.settings.source_of(r) for r in manifest.requirements]
        if self.fresh is not None and source in self.fresh:
            self.fresh.update(children)
            self.cache.refresh(children)
        else:
            self.cache.prefetch(children)
        return manifest


# -- pinned installs --


def _pinned_lock(settings: Settings, cache: GitCache, old: LockFile) -> tuple[LockFile, list[str]]:
    with_commit = [(settings.source_of(e), e.commit) for e in old.entries if e.commit]
    cache.refresh(settings.source_of(e) for e in old.entries if not e.commit or settings.remote_check)
    cache.ensure_commits((source, commit) for source, commit in with_commit if commit)
    entries: list[LockEntry] = []
    warnings: list[str] = []
    for entry in old.entries:
        entries.append(_pinned_entry(entry, settings, cache, warnings))
    return lockfile.make(entries), warnings


def _pinned_entry(entry: LockEntry, settings: Settings, cache: GitCache, warnings: list[str]) -> LockEntry:
    source = settings.source_of(entry)
    if entry.kind == "rev":
        cache.ensure_commits([(source, entry.ref)])
        return LockEntry(entry.name, entry.ref, entry.ref, entry.source)
    if entry.commit and entry.kind == "branch" and not settings.remote_check:
        return entry
    current = cache.ref(source, f"refs/{'tags' if entry.kind == 'tag' else 'heads'}/{entry.ref}")
    if current is None:
        if entry.commit:
            warnings.append(f"{entry.name}: {entry.kind} {entry.ref} is gone from {redact(source)}; installing the locked commit {entry.commit[:12]}.")
            return entry
        raise GitError(f"{entry.name} has no {entry.kind} '{entry.ref}' at {redact(source)}; run `salt-shaker update {entry.name}`.")
    if entry.commit is None or current == entry.commit:
        return LockEntry(entry.name, entry.ref, current, entry.source)
    if settings.remote_check:
        warnings.append(f"{entry.name}: {entry.kind} {entry.ref} moved from {entry.commit[:12]} to {current[:12]}; the lock now pins the new commit.")
        return LockEntry(entry.name, entry.ref, current, entry.source)
    if entry.kind == "branch":
        return entry
    raise GitError(
        f"{entry.name}: tag {entry.ref} now points at {current[:12]}, but the lock pins {entry.commit[:12]}; "
        "run with --enable-remote-check (remote_check) to accept the move, or restore the tag."
    )


# -- publishing --


def _publish(command: str, settings: Settings, cache: GitCache, vendor: Vendor, old: LockFile, new: LockFile, warnings: list[str]) -> Report:
    """Plan the publish of ``new``, then apply it unless simulating or nothing is to be built."""
    plan = publishing.plan_for(command, settings, cache, vendor, old, new, warnings)
    report = functools.partial(report_of, simulate=settings.simulate, root_dir=str(settings.root), saltenv=settings.saltenv)
    if settings.simulate or plan.layout is None:
        return report(plan)
    release, repaired = publishing.apply(plan, settings, cache, vendor)
    return report(with_repair(plan, repaired), published=release != plan.served_release, release=release)


def _ref_commit(item: LockEntry | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    if isinstance(item, LockEntry):
        return {"ref": item.ref, "commit": item.commit}
    return {"ref": item.get("ref"), "commit": item.get("commit")}


# -- sessions --


@contextmanager
def _session(settings: Settings, fetch_policy: str, progress: Progress | None) -> Iterator[tuple[GitCache, Vendor]]:
    vendor = vendor_for(settings)
    cache = git_cache(settings, fetch_policy, progress)
    started = time.monotonic()
    with ExitStack() as stack:
        stack.enter_context(cache)
        if not settings.simulate:
            stack.enter_context(vendor.lock(settings.lock_timeout))
            publishing.recover(settings, vendor)
        yield cache, vendor
    log.info("done in %.2fs; fetched %d mirrors", time.monotonic() - started, len(cache.fetched))


def git_cache(settings: Settings, fetch_policy: str = "always", progress: Progress | None = None) -> GitCache:
    """The mirror cache as these settings configure it."""
    return GitCache(
        settings.cache_path,
        credentials=Credentials(settings.credentials),
        jobs=settings.jobs,
        fetch_policy=fetch_policy,
        offline=settings.offline,
        timeout=settings.git_timeout,
        progress=progress,
        allowed_sources=settings.allowed_sources,
        max_manifest_bytes=settings.max_manifest_bytes,
        stale_ok=settings.simulate,
    )


def vendor_for(settings: Settings) -> Vendor:
    """The vendor directory (and saltenv root link) these settings publish to."""
    return Vendor(settings.root, settings.keep_releases, settings.saltenv)

