"""Fetching one mirror: clone into staging and rename, or fetch into it; a local source is seeded by copying objects first."""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
import urllib.parse
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pygit2

from .errors import GitError
from .gitauth import AuthFailed, Callbacks, Credentials, Timeout
from .gitobjects import check_refs_readable, seed_from_local
from .sources import name_from_url, redact

log = logging.getLogger(__name__)

REFSPECS = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
Progress = Callable[[int], None] | None  # told the bytes received so far


def usable_cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Fetcher:
    """Brings one bare mirror up to date with its source, with these credentials and this deadline.

    Fetches from sources on this machine (file://) run at most one per core, whatever ``jobs`` says: they have
    no network wait to overlap, so more threads than cores only queue on the interpreter lock and libgit2's own.
    """

    credentials: Credentials
    timeout: float
    local_slots: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(usable_cores()), compare=False)

    @staticmethod
    def usable(path: Path) -> bool:
        repo = None
        try:
            repo = pygit2.Repository(str(path))
            check_refs_readable(repo)
            return True
        except (pygit2.GitError, KeyError, ValueError, OSError):
            log.warning("The cached mirror %s is damaged; cloning it again.", path.name)
            shutil.rmtree(path, ignore_errors=True)
            return False
        finally:
            if repo is not None:
                repo.free()  # libgit2 caches open packs by path: let go of the damaged one before a clone takes its place

    def clone(self, path: Path, url: str, progress: Progress) -> None:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            pygit2.init_repository(str(staging), bare=True)
            self.fetch_into(staging, url, progress)
            os.rename(staging, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def slot(self, url: str) -> AbstractContextManager[Any]:
        """Held while a mirror of ``url`` is brought up to date: one of the cores for a local source, nothing for a remote one."""
        return self.local_slots if local_path(url) is not None else nullcontext()

    def fetch_into(self, path: Path, url: str, progress: Progress) -> None:
        local = local_path(url)
        if local is not None and not os.path.isdir(local):  # decided here, not read from libgit2's wording
            raise GitError(f"Fetching {describe(url)} failed: there is no repository at {local}; check that the source exists and is reachable.",
                           url=redact(url))
        if local is not None:
            self._seed(Path(local), path, url)
        repo = pygit2.Repository(str(path))
        remote = repo.remotes.create_anonymous(url)
        callbacks = Callbacks(self.credentials.for_url(url), time.monotonic() + self.timeout, progress)
        started = time.monotonic()
        try:
            stats = remote.fetch(REFSPECS, callbacks=callbacks, prune=pygit2.enums.FetchPrune.PRUNE)
            if progress is not None:  # the last word, also when nothing was transferred (a seeded or current mirror)
                progress(stats.received_bytes)
        except (AuthFailed, Timeout) as exc:
            raise GitError(f"Fetching {describe(url)} failed: {exc}; check the 'credentials' setting and that the source is reachable.", url=redact(url)) from None
        except (pygit2.GitError, OSError) as exc:
            reason = scrub(str(exc), url, self.credentials.secrets())
            raise GitError(f"Fetching {describe(url)} failed: {reason}; check that the source exists and is reachable.", url=redact(url)) from None
        log.debug("fetched %s in %.2fs", redact(url), time.monotonic() - started)

    def _seed(self, local: Path, mirror: Path, url: str) -> None:
        try:
            seed_from_local(local, mirror)
        except Timeout as exc:
            raise GitError(f"Fetching {describe(url)} failed: {exc}.", url=redact(url)) from None
        except OSError as exc:
            raise GitError(f"Fetching {describe(url)} failed: {exc.strerror or exc}; check that the source is readable and that the cache has room.",
                           url=redact(url)) from None


def local_path(url: str) -> str | None:
    """The directory a file:// URL names; None for other URLs."""
    if not url.startswith("file://"):
        return None
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path)


def describe(url: str) -> str:
    name = name_from_url(url)
    return f"{name} ({redact(url)})" if name else redact(url)


def scrub(text: str, url: str, secrets: list[str]) -> str:
    text = text.replace(url, redact(url)).strip().rstrip(".")
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def set_timeouts(seconds: float) -> None:
    # pygit2 1.18.2 and newer (the declared minimum): without these a silent remote blocks forever
    milliseconds = int(seconds * 1000)
    pygit2.settings.server_connect_timeout = milliseconds
    pygit2.settings.server_timeout = milliseconds


@contextmanager
def flock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
