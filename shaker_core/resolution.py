"""Resolution against the mirror cache: which mirrors to fetch when, a targeted ``update``, and the lock a resolution gives.

The resolver (:mod:`shaker_core.resolver`) is pure; this module feeds it from git,
starting fetches of a formula's dependencies as soon as its ``metadata.yml`` is read.
"""
from __future__ import annotations

import logging
from typing import Mapping

from . import lockfile
from .errors import GitError, LimitExceeded, ResolutionError, ShakerError, UsageError
from .git import GitCache
from .lockfile import LockEntry, LockFile
from .manifest import Manifest
from .resolver import Resolution, resolve
from .session import git_cache
from .settings import Settings
from .versions import version_tags

log = logging.getLogger(__name__)

UPDATE_ROUNDS = 10  # a targeted update re-resolves at most this often while moved pins still come from stale mirrors


def moved_tags(old: LockFile, new: LockFile, settings: Settings) -> list[str]:
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


def targeted_resolve(project: Manifest, cache: GitCache, settings: Settings, preferred: Mapping[str, str] | None,
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
        resolution = resolve_project(project, cache, settings, preferred, fresh)
    except ResolutionError as exc:
        if isinstance(exc, LimitExceeded):
            raise
        cache.refresh(settings.source_of(e) for e in old.entries)
        resolution = resolve_project(project, cache, settings, preferred)
    locked = {(e.name, e.ref) for e in old.entries}
    for _ in range(UPDATE_ROUNDS):
        stale = {pin.source for pin in resolution.pins.values() if (pin.name, pin.ref) not in locked and not cache.fetched_this_run(pin.source)}
        if not stale:
            return resolution
        cache.refresh(sorted(stale))
        resolution = resolve_project(project, cache, settings, preferred, fresh)
    return resolution


def resolve_project(project: Manifest, cache: GitCache, settings: Settings, preferred: Mapping[str, str] | None,
             fresh: set[str] | None = None) -> Resolution:
    if len({r.name for r in project.requirements if r.name != project.name}) > settings.max_formulas:  # before a single fetch starts
        raise LimitExceeded(f"The dependency graph names more than {settings.max_formulas} formulas; raise the 'max_formulas' setting if that is intended.")
    index = PrefetchingIndex(cache, settings, fresh)
    cache.discover = index.discover
    try:
        cache.prefetch(settings.source_of(r) for r in project.requirements)
        return resolve(project, index, settings.default_source, preferred=preferred,
                       max_rounds=settings.max_resolution_rounds, max_formulas=settings.max_formulas)
    finally:
        cache.discover = None


def preferred_refs(old: LockFile, names: list[str] | None, keep_locked: bool) -> dict[str, str] | None:
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


def lock_satisfies(settings: Settings, project: Manifest, old: LockFile) -> bool:
    """Whether the lock still satisfies the declaration, judged from the cache (fetching only missing mirrors)."""
    cache = git_cache(settings, "missing")
    try:
        with cache:
            resolution = resolve_project(project, cache, settings, preferred_refs(old, None, keep_locked=True))
    except ShakerError as exc:
        log.debug("the lock does not satisfy the declaration: %s", exc)
        return False
    pinned = {(p.name, p.ref) for p in resolution.pins.values()}
    return pinned == {(e.name, e.ref) for e in old.entries}


def lock_from(resolution: Resolution, settings: Settings) -> LockFile:
    return lockfile.make(
        LockEntry(name=pin.name, ref=pin.ref, commit=pin.commit, source=None if pin.source == settings.default_source(pin.name) else pin.source)
        for pin in resolution.pins.values()
    )


class PrefetchingIndex:
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

    def discover(self, source: str) -> None:
        """In the fetch thread, once ``source`` is current: read its newest release's manifest and start fetching what it
        names, so the graph is discovered at fetch speed rather than one resolver round at a time. Only a guess: any
        problem is left for the resolver to meet (and report) when it gets there."""
        try:
            tags = self.cache.versions(source)
            newest = version_tags(tags)
            if newest:
                self.manifest_at(source, tags[newest[0][0]])
        except ShakerError as exc:
            log.debug("speculative prefetch after %s stopped: %s", source, exc)

    def manifest_at(self, source: str, commit: str) -> Manifest:
        manifest = self.cache.manifest_at(source, commit)
        children = [self.settings.source_of(r) for r in manifest.requirements]
        if self.fresh is not None and source in self.fresh:
            self.fresh.update(children)
            self.cache.refresh(children)
        else:
            self.cache.prefetch(children)
        return manifest
