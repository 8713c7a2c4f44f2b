"""GitCache: one bare mirror per source URL, fetched at most once per run.

With gitauth, gitfetch and gitobjects, the only modules that import pygit2. It lists tags and branches, reads files
at a commit from the object database (no checkout), and exports a commit's
tree into a directory. It implements the resolver's ``Index``.
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

import pygit2

from . import faults, formula_file, interrupts
from .errors import GitError, LayoutError, ManifestError
from .gitauth import Credentials
from .gitfetch import Fetcher, describe, flock, scrub, set_timeouts
from .gitobjects import (
    SignedParts,
    TreeWriter,
    blob_data,
    blob_size,
    collect_entries,
    is_commit_object,
    mirror_name,
    mirror_present,
    peel_commit,
    signed_parts,
)
from .manifest import Manifest
from .progress import RunProgress
from .sources import allowed, check_url, name_from_url, redact
from .yamlsafe import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)

FetchPolicy = Literal["always", "missing"]  # always: each mirror once per run; missing: only mirrors that lack what is asked
MAX_LINK_BYTES = 4096  # PATH_MAX: no file system follows a longer symlink target
MODE_TREE, MODE_LINK, MODE_COMMIT, MODE_EXEC = 0o040000, 0o120000, 0o160000, 0o100755


class GitCache:
    """Bare mirrors under ``cache_dir``, shareable between projects.

    ``fetch_policy`` is ``always`` (fetch each mirror once per run, for commands
    that look for new versions) or ``missing`` (fetch only when a needed commit
    is absent). ``offline`` never touches the network. ``stale_ok`` reads a
    read-only cache as it is, with a warning, instead of failing to fetch.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        credentials: Credentials | None = None,
        jobs: int = 8,
        fetch_policy: FetchPolicy = "always",
        offline: bool = False,
        timeout: float = 120.0,
        progress: RunProgress | None = None,
        allowed_sources: tuple[str, ...] = (),
        max_manifest_bytes: int = DEFAULT_MAX_BYTES,
        stale_ok: bool = False,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.stale_ok = stale_ok  # a command that writes nothing reads a read-only cache as it is, instead of failing
        self.max_manifest_bytes = max_manifest_bytes
        self.allowed_sources = allowed_sources
        self.credentials = credentials or Credentials()
        self._fetcher = Fetcher(self.credentials, timeout)
        self.fetch_policy = fetch_policy
        self.offline = offline
        self.timeout = timeout
        self.progress = progress
        self._pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="shaker-fetch")
        self._fetches: dict[str, Future[None]] = {}
        self._mirror_paths: dict[str, Path] = {}  # url -> where its mirror lives (the name is a hash: computed once)
        self._lock = threading.Lock()
        self._repos: dict[str, pygit2.Repository] = {}
        self._present: dict[str, set[str]] = {}  # url -> commits seen in its mirror (objects stay until the mirror is replaced)
        self._checked: set[str] = set()
        self._manifests: dict[tuple[str, str], Manifest] = {}  # (url, commit) -> its manifest: a commit never changes
        self._fetching = threading.local()  # the URL this fetch thread is updating: it reads that mirror without waiting on itself
        self.discover: Callable[[str], None] | None = None  # called in the fetch thread once a mirror is current (speculative prefetch)
        self._cache_read_only: bool | None = None
        self.fetched: list[str] = []
        set_timeouts(timeout)

    def close(self) -> None:
        """Stop the fetch pool."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> GitCache:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None and issubclass(exc_type, interrupts.Interrupted):
            self._pool.shutdown(wait=False, cancel_futures=True)  # the command line exits without waiting for a silent remote
        else:
            self.close()

    # -- mirrors --

    def mirror_path(self, url: str) -> Path:
        """Where the mirror of ``url`` lives: a readable slug plus a hash of the credential-free URL.

        Only a real directory (or nothing) is accepted there: a symlink is never followed,
        since a fetch would rewrite the refs of whatever repository it points at.
        """
        path = self._path_of(url)
        mirror_present(path)
        return path

    def mirrored(self, url: str) -> bool:
        """Whether the mirror of ``url`` is cached (an open one is; else one ``lstat``, judged as :meth:`mirror_path` judges it)."""
        return url in self._repos or mirror_present(self._path_of(url))

    def _path_of(self, url: str) -> Path:
        return self._mirror_paths.get(url) or self._mirror_paths.setdefault(url, self.cache_dir / mirror_name(url))

    def prefetch(self, urls: Iterable[str]) -> None:
        """Start fetching, in the background (bounded pool), every URL the fetch policy says to fetch."""
        for url in urls:
            if self.fetch_policy == "always" or not self.mirrored(url):
                self._fetch_future(url)

    def refresh(self, urls: Iterable[str]) -> None:
        """Start fetching every URL, whatever the policy (each still at most once per run)."""
        for url in urls:
            self._fetch_future(url)

    def fetched_this_run(self, url: str) -> bool:
        """Whether this cache has fetched (or is fetching) ``url``."""
        with self._lock:
            return url in self._fetches

    def ensure_commits(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Make every (url, commit) available, fetching only mirrors that lack it (or all, with policy ``always``)."""
        pending = []
        for url, commit in wanted:
            if self.fetch_policy == "always" or not self.has_commit(url, commit):
                pending.append((url, commit, self._fetch_future(url)))
        for url, commit, future in pending:
            future.result()
            if not self.has_commit(url, commit):
                if self.offline:
                    raise GitError(f"{describe(url)}: commit {commit} is not in the cache, and --offline forbids fetching it; run once without --offline.", url=redact(url))
                raise GitError(f"{describe(url)} has no commit {commit}; the lock names a commit the source no longer has.", url=redact(url))

    def _check_source(self, url: str) -> None:
        """Refuse a URL git could misread (an option, a remote helper) or one outside ``allowed_sources``, before any use."""
        if url in self._checked:
            return
        reason = check_url(url)  # every URL, wherever it came from (template, project, lock, payload)
        if reason:
            raise GitError(f"{describe(url)}: the source URL {reason}.", url=redact(url))
        if not allowed(url, self.allowed_sources):
            raise GitError(f"{describe(url)} is not under an allowed source prefix ({', '.join(self.allowed_sources)}); "
                           "add its prefix to the 'allowed_sources' setting if it is trusted.", url=redact(url))
        self._checked.add(url)

    def _fetch_future(self, url: str) -> Future[None]:
        self._check_source(url)
        with self._lock:
            if url not in self._fetches:
                if self.progress is not None:
                    self.progress.fetch_started(_label(url))
                self._fetches[url] = self._pool.submit(self._sync_mirror, url)
            return self._fetches[url]

    def _wait(self, url: str) -> None:
        if not self._wait_inflight(url) and (self.fetch_policy == "always" or not self.mirrored(url)):
            self._fetch_future(url).result()

    def _wait_inflight(self, url: str) -> bool:
        """Wait for a fetch of ``url`` this cache started (never read a mirror while it is fetched); whether there was one."""
        if getattr(self._fetching, "url", None) == url:
            return True  # the fetch thread itself, reading the mirror it has just brought up to date
        with self._lock:
            future = self._fetches.get(url)
        if future is not None:
            future.result()
        return future is not None

    def _sync_mirror(self, url: str) -> None:
        self._fetching.url = url
        try:
            with self._fetcher.slot(url):
                self._update_mirror(url)
            if self.discover is not None:
                self.discover(url)
        finally:
            self._fetching.url = None
            if self.progress is not None:
                self.progress.fetch_done(_label(url))

    def _update_mirror(self, url: str) -> None:
        path = self.mirror_path(url)
        faults.point("before-fetch")
        if self.offline:
            if not path.exists():
                raise GitError(f"{describe(url)} is not in the cache and --offline forbids fetching it; run once without --offline.", url=redact(url))
            return
        if self.stale_ok and self._read_only():
            if not path.exists():
                raise GitError(f"{describe(url)} is not in the cache, and cache_dir {self.cache_dir} is read-only; "
                               "point cache_dir at a writable place.", url=redact(url))
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with flock(path.with_name(path.name + ".lock")):
            opened = self._drop_handle(url)
            if opened is not None:  # readers wait for this fetch (_wait_inflight), so nobody else holds it now
                opened.free()  # libgit2 keeps packs open by path: a handle on a damaged one would outlive the clone that replaces it
            if path.exists() and Fetcher.usable(path):
                self._fetcher.fetch_into(path, url, self._progress_for(url))
            else:
                self._fetcher.clone(path, url, self._progress_for(url))
        self._drop_handle(url)
        with self._lock:
            self.fetched.append(url)

    def _read_only(self) -> bool:
        """Whether the cache exists but cannot be written (a read-only project): mirrors are then read as cached, once warned."""
        with self._lock:
            if self._cache_read_only is None:
                self._cache_read_only = self.cache_dir.is_dir() and not os.access(self.cache_dir, os.W_OK)
                if self._cache_read_only:
                    log.warning("cache_dir %s is read-only: using the mirrors as cached, without fetching (tags may be stale).", self.cache_dir)
            return self._cache_read_only

    def _progress_for(self, url: str) -> Callable[[int], None] | None:
        progress, label = self.progress, _label(url)
        return None if progress is None else (lambda received: progress.received(label, received))

    def _drop_handle(self, url: str) -> pygit2.Repository | None:
        """Forget the open repository of ``url`` and what was seen in it (its mirror is about to change)."""
        with self._lock:
            self._present.pop(url, None)
            return self._repos.pop(url, None)

    def _repo(self, url: str) -> pygit2.Repository:
        with self._lock:
            repo = self._repos.get(url)
            if repo is None:
                self._check_source(url)  # a mirror already in a shared cache is read without a fetch
                if not self.mirrored(url):
                    raise GitError(f"{describe(url)} is not in the cache; fetch it first.", url=redact(url))
                repo = pygit2.Repository(str(self._path_of(url)))
                self._repos[url] = repo
            return repo

    # -- the resolver's Index --

    def versions(self, source: str) -> dict[str, str]:
        """Every tag, peeled to the commit it names."""
        return self._refs(source, "refs/tags/")

    def branches(self, source: str) -> dict[str, str]:
        """Every branch head."""
        return self._refs(source, "refs/heads/")

    def _refs(self, url: str, prefix: str) -> dict[str, str]:
        self._wait(url)
        repo = self._repo(url)
        found: dict[str, str] = {}
        for ref in repo.listall_reference_objects():
            if ref.name.startswith(prefix):
                commit = peel_commit(ref)
                if commit is not None:
                    found[ref.name[len(prefix):]] = commit
        return found

    def manifest_at(self, source: str, commit: str) -> Manifest:
        """The metadata.yml at ``commit`` (completed from a FORMULA file); empty when there is neither."""
        known = self._manifests.get((source, commit))
        if known is None:
            known = self._manifests[(source, commit)] = self._read_manifest(source, commit)
        return known

    def _read_manifest(self, source: str, commit: str) -> Manifest:
        name = name_from_url(source)
        return formula_file.manifest_at(lambda path: self.read_file(source, commit, path), commit, name or redact(source),
                                        org=(name or "/").split("/")[0], max_bytes=self.max_manifest_bytes)

    # -- reading and exporting --

    def has_commit(self, url: str, commit: str) -> bool:
        """Whether the mirror holds ``commit``, readable, as a commit."""
        self._wait_inflight(url)
        if commit in self._present.get(url, ()):
            return True
        if not self.mirrored(url):
            return False
        try:
            found = is_commit_object(self._repo(url), commit)
        except (ValueError, pygit2.GitError):
            return False
        if found:
            with self._lock:
                self._present.setdefault(url, set()).add(commit)
        return found

    def ref(self, url: str, name: str) -> str | None:
        """The commit one ref (``refs/tags/v1.0.0``) names, without listing every ref."""
        self._wait(url)
        reference = self._repo(url).references.get(name)
        if reference is None:
            return None
        target = str(reference.target)  # a commit id, or the name a symbolic ref points at
        return target if target in self._present.get(url, ()) else peel_commit(reference)  # a lightweight tag on a known commit

    def read_file(self, url: str, commit: str, path: str) -> bytes | None:
        """The bytes of ``path`` at ``commit``, or None when the file is absent; a file over ``max_manifest_bytes`` is refused unread."""
        tree = self._tree(url, commit)
        try:
            entry = tree[path]
        except KeyError:
            return None
        if entry.type_str != "blob":
            return None
        with self._reading(url):
            repo = self._repo(url)
            size = blob_size(repo, entry.id)
            if size > self.max_manifest_bytes:
                raise ManifestError(f"{path} at {commit[:12]} is {size} bytes, over the limit of {self.max_manifest_bytes}; "
                                    "shorten it or raise the 'max_manifest_bytes' setting.")
            return blob_data(repo, entry.id)

    def signed_parts(self, url: str, tag: str | None, commit: str) -> SignedParts:
        """The raw tag object ``refs/tags/<tag>`` names (when annotated) and ``commit``'s signature, for a signature check."""
        self._tree(url, commit)  # the commit is there, or a GitError names it
        with self._reading(url):
            return signed_parts(self._repo(url), tag, commit)

    def list_top(self, url: str, commit: str) -> dict[str, str]:
        """The top-level entries of the commit's tree: name -> ``tree``/``blob``/``commit``."""
        return {entry.name or "": entry.type_str for entry in self._tree(url, commit)}

    def export(self, url: str, commit: str, dest: Path, *, label: str = "", max_bytes: int | None = None) -> int:
        """Write the commit's tree into ``dest`` (which must not exist); return bytes written."""
        tree = self._tree(url, commit)
        writer = TreeWriter(self._repo(url), label or f"{name_from_url(url)} {commit[:12]}", max_bytes)
        if self.progress is not None:
            self.progress.exporting(writer.label)
        dest.mkdir(parents=True)
        with self._reading(url):
            writer.write(tree, dest, "")
        return writer.written

    def tree_entries(self, url: str, commit: str) -> dict[str, tuple[str, str]]:
        """Every file and symlink of the commit's tree, as an export writes it: path -> (``file``/``exec``, blob id) or (``link``, target)."""
        tree = self._tree(url, commit)
        found: dict[str, tuple[str, str]] = {}
        with self._reading(url):
            collect_entries(self._repo(url), tree, "", found)
        return found

    def readable_entries(self, url: str, commit: str) -> dict[str, tuple[str, str]] | None:
        """:meth:`tree_entries`, or None when no cached mirror holds the commit (nothing is fetched)."""
        try:
            return self.tree_entries(url, commit) if self.has_commit(url, commit) else None
        except (GitError, LayoutError):  # no usable mirror (a symlink or a file where it should be): reported as unverified
            return None

    def _tree(self, url: str, commit: str) -> pygit2.Tree:
        self._wait(url)  # a commit named directly (a rev pin) is read before any tag listing fetched the mirror
        repo = self._repo(url)
        with self._reading(url):
            try:
                obj = repo[commit]
            except (KeyError, ValueError):
                raise GitError(f"{describe(url)} has no commit {commit}.", url=redact(url)) from None
            return obj.peel(pygit2.Tree)

    @contextmanager
    def _reading(self, url: str) -> Iterator[None]:
        """An object the mirror cannot read (a damaged pack) is a GitError, and the mirror is dropped so the next run clones it afresh."""
        try:
            yield
        except pygit2.GitError as exc:
            path = self.mirror_path(url)
            opened = self._drop_handle(url)
            if opened is not None:
                opened.free()  # reads of a mirror happen in one thread: the one that just failed
            with flock(path.with_name(path.name + ".lock")):
                shutil.rmtree(path, ignore_errors=True)
            reason = scrub(str(exc), url, self.credentials.secrets())
            raise GitError(f"The cached mirror of {describe(url)} is damaged ({reason}); it was removed: run again to fetch it afresh.", url=redact(url)) from None


def _label(url: str) -> str:
    return name_from_url(url) or redact(url)
