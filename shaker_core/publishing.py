"""Publishing: plan a lock's release from git, then apply the plan to ``vendor/`` (build, switch, lock, clean).

:func:`plan_for` reads what the plan needs (the served record, each pinned
formula's tree and metadata) and returns a :class:`~shaker_core.plan.PublishPlan`;
:func:`apply` does the file-system work. Nothing here resolves versions.
"""
from __future__ import annotations

import functools
import logging
import weakref
from pathlib import Path

from . import faults, formula_file, interrupts, lockfile
from .errors import LayoutError
from .git import GitCache
from .gitobjects import hash_file, hash_text
from .layout import FormulaTree, ReleaseInfo, plan_release
from .lockfile import LockEntry, LockFile
from .manifest import Manifest
from .plan import PublishPlan, plan_publish
from .release_file import Context
from .settings import Settings
from .vendor import Vendor
from .verify import TreeCheck, TreeDiff
from .versions import parse_tag

log = logging.getLogger(__name__)


def plan_for(command: str, settings: Settings, cache: GitCache, vendor: Vendor, old: LockFile, new: LockFile, warnings: list[str]) -> PublishPlan:
    """What publishing ``new`` changes: nothing to build when a pinned install finds it served intact."""
    lock_text = lockfile.render(new, settings.default_source)
    # a pinned install rewrites the lock only when what it pins moved, never for its formatting
    lock_changed = new != old if command == "install_pinned" else lock_changed_on_disk(settings.lock_path, lock_text)
    served_id = vendor.current_id()
    served = vendor.release_info(served_id) if served_id else None
    planned = functools.partial(plan_publish, command=command, lock_before=old, lock_after=new, lock_changed=lock_changed, served=served)
    repaired = None
    # the warm path: a pinned install with nothing to do resolves and exports nothing; it only checks the served files against git
    if command == "install_pinned" and not lock_changed and already_served(settings, served, new):
        repaired = served_damage(vendor, served_id, tree_check(cache))
        if not repaired:
            return planned(layout=None, warnings=tuple(warnings))
    cache.ensure_commits((settings.source_of(e), e.commit) for e in new.entries if e.commit)
    tree_warnings: list[str] = []
    layout = plan_release([formula_tree(entry, settings, cache, tree_warnings) for entry in new.entries], release_context(settings))
    return planned(layout=layout, repaired=repaired, warnings=(*warnings, *tree_warnings))


def apply(plan: PublishPlan, settings: Settings, cache: GitCache, vendor: Vendor) -> tuple[str, TreeDiff | None]:
    """Build the plan's release (reusing an intact one), switch to it, write the lock; return the release served and what was rebuilt."""
    assert plan.layout is not None
    vendor.check_root_path()  # refuse a real directory at _root before the lock or a release is written
    labels = {formula.commit: f"{formula.name} {formula.ref}" for formula in plan.layout.formulas}
    lock_text = lockfile.render(plan.lock_after, settings.default_source)
    built = vendor.build(
        plan.layout,
        lambda source, commit, dest: cache.export(source, commit, dest, label=labels[commit], max_bytes=settings.max_formula_bytes),
        lock_text,
        tree_check(cache),
    )
    faults.point("after-build")
    interrupts.raise_if_requested()
    with interrupts.deferred():
        commit(settings, vendor, lock_text if plan.lock_changed else None, plan.served_release, built.path.name)
    faults.point("after-publish")
    if built.repaired:
        vendor.discard_release(plan.layout.release_id)  # the damaged original: never a rollback target
    vendor.collect_garbage()
    return built.path.name, built.repaired or plan.repaired


def commit(settings: Settings, vendor: Vendor, lock_text: str | None, previous: str | None, release: str) -> None:
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


def tree_check(cache: GitCache) -> TreeCheck:
    """Judges served trees and store entries against the cached mirrors (never fetching); one per cache, so a
    release that several saltenvs serve is read once per run."""
    if cache not in _TREE_CHECKS:
        _TREE_CHECKS[cache] = TreeCheck(entries_of=cache.readable_entries, hash_file=hash_file, hash_text=hash_text)
    return _TREE_CHECKS[cache]


_TREE_CHECKS: weakref.WeakKeyDictionary[GitCache, TreeCheck] = weakref.WeakKeyDictionary()


def served_damage(vendor: Vendor, release: str | None, check: TreeCheck) -> TreeDiff:
    """What differs from git in the served release (nothing when nothing is served)."""
    info = vendor.release_info(release) if release else None
    return check.release(vendor.releases / release, info) if release and info else TreeDiff()


def already_served(settings: Settings, served: ReleaseInfo | None, new: LockFile) -> bool:
    """Whether the served release pins exactly what ``new`` pins, from the same sources, for the same purpose.

    The release id is a function of those, so there is nothing to plan, export or switch. A release
    without a description was built before releases had one: it is built again.
    """
    if served is None or not served.description:
        return False
    if Context.of(served.description) != release_context(settings):
        return False
    pinned = {name: (rec.get("ref"), rec.get("commit"), rec.get("source")) for name, rec in served.formulas.items()}
    return pinned == {e.name: (e.ref, e.commit, settings.source_of(e)) for e in new.entries}


def release_context(settings: Settings) -> Context:
    """What a release built with these settings is for: its saltenv, and the project commit it deploys."""
    return Context(saltenv=settings.saltenv, project_commit=settings.project_commit, project_signer=settings.project_signer)


def formula_tree(entry: LockEntry, settings: Settings, cache: GitCache, warnings: list[str]) -> FormulaTree:
    """What the layout plan needs of one pinned formula: its exports and its top-level entries."""
    source = settings.source_of(entry)
    assert entry.commit is not None
    manifest = cache.manifest_at(source, entry.commit)
    warnings.extend(version_warnings(entry, manifest, settings))
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


def version_warnings(entry: LockEntry, manifest: Manifest, settings: Settings) -> list[str]:
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


def lock_changed_on_disk(path: Path, text: str) -> bool:
    """Whether the lock file's bytes differ from ``text`` (a missing or unreadable lock differs)."""
    try:
        return path.read_text(encoding="utf-8") != text
    except (FileNotFoundError, UnicodeDecodeError):
        return True

