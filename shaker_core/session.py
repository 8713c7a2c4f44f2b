"""A run's session: the mirror cache and the vendor directory as the settings configure them, under the writer lock."""
from __future__ import annotations

import logging
import time
from contextlib import ExitStack, contextmanager
from typing import Iterator

from . import publishing
from .git import FetchPolicy, GitCache
from .gitauth import Credentials
from .progress import RunProgress
from .settings import Settings
from .vendor import Vendor

log = logging.getLogger(__name__)

Progress = RunProgress


@contextmanager
def session(settings: Settings, fetch_policy: FetchPolicy, progress: Progress | None,
            shared: GitCache | None = None) -> Iterator[tuple[GitCache, Vendor]]:
    """The cache (``shared``, owned by the caller, or a new one) and the vendor directory, under the writer lock."""
    vendor = vendor_for(settings)
    cache = shared or git_cache(settings, fetch_policy, progress)
    started = time.monotonic()
    with ExitStack() as stack:
        if shared is None:
            stack.enter_context(cache)
        if not settings.simulate:
            stack.enter_context(vendor.lock(settings.lock_timeout))
            publishing.recover(settings, vendor)
        yield cache, vendor
    log.info("done in %.2fs; fetched %d mirrors", time.monotonic() - started, len(cache.fetched))


def git_cache(settings: Settings, fetch_policy: FetchPolicy = "always", progress: Progress | None = None) -> GitCache:
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
