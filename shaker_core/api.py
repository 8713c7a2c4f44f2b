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
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from . import faults, formula_file, insight, interrupts, lockfile, notify, records
from .errors import GitError, LayoutError, LimitExceeded, LockFileError, ManifestError, ResolutionError, ShakerError, UsageError
from .git import Credentials, GitCache, hash_file
from .layout import ROOT_LINK, FormulaTree, LayoutPlan, Vendor, plan_release, records_by_name
from .lockfile import LockEntry, LockFile
from .manifest import Manifest, Requirement, manifest_from_document, parse_manifest
from .resolver import Resolution, resolve
from .settings import Settings
from .sources import redact
from .userfiles import read_user_file
from .verify import TreeCheck, TreeDiff
from .versions import parse_tag

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
        tree = _served_damage(vendor, release, tree_check(cache))
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
        tags = {e.name: cache.versions(_source_of(e, settings)) for e in lock.entries if e.kind == "tag"}
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
                or locked.commit == entry.commit or _source_of(locked, settings) != _source_of(entry, settings)):
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
    fresh = {_source_of(e, settings) for e in old.entries if e.name in names}
    cache.refresh(sorted(fresh))
    try:
        resolution = _resolve(project, cache, settings, preferred, fresh)
    except ResolutionError as exc:
        if isinstance(exc, LimitExceeded):
            raise
        cache.refresh(_source_of(e, settings) for e in old.entries)
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
    cache.prefetch(_source_of(r, settings) for r in project.requirements)
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
        children = [_source_of(r, self.settings) for r in manifest.requirements]
        if self.fresh is not None and source in self.fresh:
            self.fresh.update(children)
            self.cache.refresh(children)
        else:
            self.cache.prefetch(children)
        return manifest


def _source_of(requirement: Requirement | LockEntry, settings: Settings) -> str:
    return requirement.source or settings.default_source(requirement.name)


# -- pinned installs --


def _pinned_lock(settings: Settings, cache: GitCache, old: LockFile) -> tuple[LockFile, list[str]]:
    with_commit = [(_source_of(e, settings), e.commit) for e in old.entries if e.commit]
    cache.refresh(_source_of(e, settings) for e in old.entries if not e.commit or settings.remote_check)
    cache.ensure_commits((source, commit) for source, commit in with_commit if commit)
    entries: list[LockEntry] = []
    warnings: list[str] = []
    for entry in old.entries:
        entries.append(_pinned_entry(entry, settings, cache, warnings))
    return lockfile.make(entries), warnings


def _pinned_entry(entry: LockEntry, settings: Settings, cache: GitCache, warnings: list[str]) -> LockEntry:
    source = _source_of(entry, settings)
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
    lock_text = lockfile.render(new, settings.default_source)
    # a pinned install rewrites the lock only when what it pins moved, never for its formatting
    lock_changed = new != old if command == "install_pinned" else _lock_changed(settings.lock_path, lock_text)
    # the warm path: a pinned install with nothing to do resolves and exports nothing; it only checks the served files against git
    if command == "install_pinned" and not lock_changed and _already_served(settings, vendor, old, new):
        current = vendor.current_id()
        damage = _served_damage(vendor, current, tree_check(cache))
        if not damage:
            return {**_report(command, settings, old, new, current, False, warnings), "served_changes": {}, "previous_release": current}
        repaired: dict[str, Any] | None = damage.as_dict()  # the build below rebuilds it beside the damaged one
    else:
        repaired = None
    cache.ensure_commits((_source_of(e, settings), e.commit) for e in new.entries if e.commit)
    tree_warnings: list[str] = []
    plan = plan_release([_formula_tree(entry, settings, cache, tree_warnings) for entry in new.entries])
    warnings = [*warnings, *tree_warnings]
    report = _report(command, settings, old, new, plan.release_id, lock_changed, [*warnings, *plan.warnings])
    previous = vendor.current_id()
    previous_info = vendor.release_info(previous) if previous else None
    report["served_changes"] = _diff(records_by_name(previous_info), {e.name: e for e in new.entries})
    report["repaired"] = repaired  # with simulate, what would be repaired
    if settings.simulate:
        return report
    vendor.check_root_path()  # refuse a real directory at _root before the lock or a release is written
    labels = {formula.commit: f"{formula.name} {formula.ref}" for formula in plan.formulas}
    built = vendor.build(
        plan, lambda source, commit, dest: cache.export(source, commit, dest, label=labels[commit], max_bytes=settings.max_formula_bytes), lock_text,
        tree_check(cache),
    )
    faults.point("after-build")
    interrupts.raise_if_requested()
    with interrupts.deferred():
        _commit(settings, vendor, lock_text if lock_changed else None, previous, built.path.name)
    faults.point("after-publish")
    if built.repaired:
        vendor.discard_release(plan.release_id)  # the damaged original: never a rollback target
        repaired = built.repaired.as_dict()
    vendor.collect_garbage()
    report.update(
        release=built.path.name,
        repaired=repaired,
        published=previous != built.path.name,
        previous_release=previous,
        module_dirs_changed=set(previous_info.module_dirs if previous_info else []) != set(plan.module_dirs)
        or _module_formulas_changed(previous_info.formulas if previous_info else {}, plan)
        or _touches_modules(repaired),
    )
    return report


def _commit(settings: Settings, vendor: Vendor, lock_text: str | None, previous: str | None, release: str) -> None:
    """Stage the lock, switch ``_root``, rename the lock; an interrupt between the steps undoes them all."""
    staged = switched = False
    try:
        if lock_text is not None:
            lockfile.stage(settings.lock_path, lock_text)
            staged = True
            faults.point("after-stage")
            interrupts.raise_if_requested()
        if previous != release:
            vendor.switch(release)
            switched = True
            faults.point("after-switch")
            interrupts.raise_if_requested()
        if staged:
            lockfile.commit_staged(settings.lock_path)
    except interrupts.Interrupted:
        if switched:
            vendor.restore(previous)
        if staged:
            lockfile.drop_staged(settings.lock_path)
        raise


def tree_check(cache: GitCache) -> TreeCheck:
    """Judges served trees and store entries against the cached mirrors (never fetching)."""
    return TreeCheck(cache.readable_entries, hash_file)


def _served_damage(vendor: Vendor, release: str | None, check: TreeCheck) -> TreeDiff:
    info = vendor.release_info(release) if release else None
    return check.release(vendor.releases / release, info.formulas) if release and info else TreeDiff()


def _already_served(settings: Settings, vendor: Vendor, old: LockFile, new: LockFile) -> bool:
    """Whether the lock is unchanged and ``_root`` already serves exactly it.

    The release id is a function of what the lock pins, so there is nothing to plan, export or switch.
    """
    current = vendor.current_id()
    info = vendor.release_info(current) if current else None
    if info is None or new != old:
        return False
    served = {name: (rec.get("ref"), rec.get("commit"), rec.get("source")) for name, rec in info.formulas.items()}
    return served == {e.name: (e.ref, e.commit, _source_of(e, settings)) for e in new.entries}


def _formula_tree(entry: LockEntry, settings: Settings, cache: GitCache, warnings: list[str]) -> FormulaTree:
    source = _source_of(entry, settings)
    assert entry.commit is not None
    manifest = cache.manifest_at(source, entry.commit)
    warnings.extend(_version_warnings(entry, manifest, settings))
    top = cache.list_top(source, entry.commit)
    return FormulaTree(
        name=entry.name,
        ref=entry.ref,
        commit=entry.commit,
        source=source,
        exports=manifest.exports_for(entry.name),
        exports_declared=bool(manifest.exports),
        top_dirs=frozenset(name for name, kind in top.items() if kind == "tree"),
        top_files=frozenset(name for name, kind in top.items() if kind == "blob"),
    )


def _version_warnings(entry: LockEntry, manifest: Manifest, settings: Settings) -> list[str]:
    """A FORMULA ``minimum_version`` newer than the running Salt, and a declared version that is not the tag."""
    found = []
    running = (settings.salt_version or formula_file.installed_salt_version()) if manifest.minimum_salt else None
    if formula_file.salt_too_old(manifest.minimum_salt, running):
        text = f"{entry.name} {entry.ref} needs Salt {manifest.minimum_salt} or newer (FORMULA minimum_version), and this is Salt {running}"
        if settings.strict_minimum_version:
            raise LayoutError(f"{text}; upgrade Salt or pin an older version of the formula.")
        found.append(f"{text}; set strict_minimum_version to refuse it.")
    declared = parse_tag(manifest.declared_version or "")
    if declared is not None and entry.kind == "tag" and declared != parse_tag(entry.ref):
        found.append(f"{entry.name}: tag {entry.ref} declares version {manifest.declared_version} in its FORMULA or metadata.yml.")
    return found


def _lock_changed(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") != text
    except (FileNotFoundError, UnicodeDecodeError):
        return True


def _touches_modules(repaired: Mapping[str, list[str]] | None) -> bool:
    """Whether a repair rewrote a file under a ``_<type>`` directory (minions then need a sync)."""
    return bool(repaired) and any(path.startswith("_") for kind in ("edited", "added", "deleted") for path in repaired[kind])  # type: ignore[index]


def _module_formulas_changed(previous: Mapping[str, Mapping[str, Any]], plan: LayoutPlan) -> bool:
    for formula in plan.formulas:
        if formula.module_dirs and previous.get(formula.name, {}).get("commit") != formula.commit:
            return True
    return any(record.get("module_dirs") and name not in {f.name for f in plan.formulas} for name, record in previous.items())


def _report(command: str, settings: Settings, old: LockFile, new: LockFile, release: str | None, lock_changed: bool, warnings: list[str]) -> Report:
    return {
        "command": command,
        "success": True,
        "simulate": settings.simulate,
        "root_dir": str(settings.root),
        "saltenv": settings.saltenv,
        "changes": diff_locks(old, new),
        "lock_changed": lock_changed,
        "release": release,
        "repaired": None,
        "published": False,
        "previous_release": None,
        "module_dirs_changed": False,
        "formulas": {e.name: {"ref": e.ref, "commit": e.commit} for e in new.entries},
        "warnings": warnings,
    }


def diff_locks(old: LockFile, new: LockFile) -> dict[str, dict[str, Any]]:
    """``{name: {old: {ref, commit} | None, new: {ref, commit} | None}}`` for every formula that differs."""
    return _diff(old.by_name(), new.by_name())


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    changes = {}
    for name in sorted(set(before) | set(after)):
        was, now = _ref_commit(before.get(name)), _ref_commit(after.get(name))
        if was != now:
            changes[name] = {"old": was, "new": now}
    return changes


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
            recover(settings, vendor)
        yield cache, vendor
    log.info("done in %.2fs; fetched %d mirrors", time.monotonic() - started, len(cache.fetched))


def recover(settings: Settings, vendor: Vendor) -> None:
    """Finish or undo a publish that a crash cut between switching ``_root`` and renaming the lock (holds the writer lock)."""
    staged = lockfile.staged_text(settings.lock_path)
    if staged is None:
        return
    current = vendor.current_id()
    served = vendor.release_info(current) if current else None
    if served is not None and served.lock_text == staged:
        lockfile.commit_staged(settings.lock_path)
        log.warning("Finished the lock update of release %s that an interrupted run left behind.", current)
    else:
        lockfile.drop_staged(settings.lock_path)


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

