"""The pinned-lock check: what an ``install-pinned-versions`` serves for each lock line, judged against the mirrors."""
from __future__ import annotations

from . import lockfile
from .errors import GitError
from .git import GitCache
from .lockfile import LockEntry, LockFile
from .settings import Settings
from .sources import redact


def pinned_lock(settings: Settings, cache: GitCache, old: LockFile) -> tuple[LockFile, list[str]]:
    with_commit = [(settings.source_of(e), e.commit) for e in old.entries if e.commit]
    cache.refresh(settings.source_of(e) for e in old.entries if not e.commit or settings.remote_check)
    cache.ensure_commits((source, commit) for source, commit in with_commit if commit)
    entries: list[LockEntry] = []
    warnings: list[str] = []
    for entry in old.entries:
        entries.append(pinned_entry(entry, settings, cache, warnings))
    return lockfile.make(entries), warnings


def pinned_entry(entry: LockEntry, settings: Settings, cache: GitCache, warnings: list[str]) -> LockEntry:
    source = settings.source_of(entry)
    if entry.kind == "rev":
        cache.ensure_commits([(source, entry.ref)])
        return LockEntry(name=entry.name, ref=entry.ref, commit=entry.ref, source=entry.source)
    if entry.commit and entry.kind == "branch" and not settings.remote_check:
        return entry
    current = cache.ref(source, f"refs/{'tags' if entry.kind == 'tag' else 'heads'}/{entry.ref}")
    if current is None:
        if entry.commit:
            warnings.append(f"{entry.name}: {entry.kind} {entry.ref} is gone from {redact(source)}; installing the locked commit {entry.commit[:12]}.")
            return entry
        raise GitError(f"{entry.name} has no {entry.kind} '{entry.ref}' at {redact(source)}; run `salt-shaker update {entry.name}`.")
    if entry.commit is None or current == entry.commit:
        return LockEntry(name=entry.name, ref=entry.ref, commit=current, source=entry.source)
    if settings.remote_check:
        warnings.append(f"{entry.name}: {entry.kind} {entry.ref} moved from {entry.commit[:12]} to {current[:12]}; the lock now pins the new commit.")
        return LockEntry(name=entry.name, ref=entry.ref, commit=current, source=entry.source)
    if entry.kind == "branch":
        return entry
    raise GitError(
        f"{entry.name}: tag {entry.ref} now points at {current[:12]}, but the lock pins {entry.commit[:12]}; "
        "run with --enable-remote-check (remote_check) to accept the move, or restore the tag."
    )
