"""GitCache: one bare mirror per source URL, fetched at most once per run.

The only module that imports pygit2. It lists tags and branches, reads files
at a commit from the object database (no checkout), and exports a commit's
tree into a directory. It implements the resolver's ``Index``.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import posixpath
import re
import shutil
import stat
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import pygit2

from . import faults, formula_file, interrupts
from .errors import GitError, LayoutError, LimitExceeded, ManifestError, printable
from .manifest import Manifest, parse_manifest
from .sources import allowed, check_url, name_from_url, redact, strip_credentials, under_prefix
from .yamlsafe import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)

REFSPECS = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
MANIFEST_FILE = "metadata.yml"
MIN_PYGIT2 = (1, 14)
_SLUG_RE = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_LINK_BYTES = 4096  # PATH_MAX: no file system follows a longer symlink target
_MODE_TREE, _MODE_LINK, _MODE_COMMIT, _MODE_EXEC = 0o040000, 0o120000, 0o160000, 0o100755


@dataclass(frozen=True)
class Credential:
    """How to authenticate to sources under one URL prefix."""

    username: str | None = None
    password: str | None = None
    ssh_key: str | None = None
    ssh_pubkey: str | None = None
    passphrase: str | None = None
    agent: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Credential:
        """Build from a settings mapping (``username``, ``password``/``token``, ``ssh_key``, ...)."""
        return cls(
            username=data.get("username"),
            password=data.get("password") or data.get("token"),
            ssh_key=data.get("ssh_key"),
            ssh_pubkey=data.get("ssh_pubkey"),
            passphrase=data.get("passphrase"),
            agent=bool(data.get("agent", False)),
        )


class Credentials:
    """Credentials chosen by the longest matching source URL prefix."""

    def __init__(self, by_prefix: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._by_prefix = {prefix: Credential.from_mapping(data or {}) for prefix, data in (by_prefix or {}).items()}

    def for_url(self, url: str) -> Credential | None:
        """The credential for ``url``, or None."""
        matches = [prefix for prefix in self._by_prefix if under_prefix(url, prefix)]
        return self._by_prefix[max(matches, key=len)] if matches else None

    def secrets(self) -> list[str]:
        """Every secret value, so callers can scrub them from text."""
        return [s for c in self._by_prefix.values() for s in (c.password, c.passphrase) if s]


class _Callbacks(pygit2.RemoteCallbacks):
    """Supplies credentials once (no retry loop) and enforces an overall deadline."""

    def __init__(self, credential: Credential | None, deadline: float, progress: Callable[[int, int], None] | None) -> None:
        super().__init__()
        self._credential = credential
        self._deadline = deadline
        self._progress = progress
        self._asked = 0

    def credentials(self, url: str, username_from_url: str | None, allowed_types: Any) -> Any:
        self._asked += 1
        credential = self._credential
        if credential is None or self._asked > 1:
            raise _AuthFailed("authentication failed" if self._asked > 1 else "the source asks for credentials and none are configured")
        allowed = pygit2.enums.CredentialType
        user = credential.username or username_from_url or "git"
        if allowed_types & allowed.SSH_KEY:
            if credential.ssh_key:
                pubkey = credential.ssh_pubkey or f"{credential.ssh_key}.pub"
                return pygit2.Keypair(user, pubkey if os.path.exists(pubkey) else None, credential.ssh_key, credential.passphrase or "")
            if credential.agent:
                return pygit2.KeypairFromAgent(user)
        if allowed_types & allowed.USERPASS_PLAINTEXT and credential.password is not None:
            return pygit2.UserPass(user, credential.password)
        if allowed_types & allowed.USERNAME:
            return pygit2.Username(user)
        raise _AuthFailed("no configured credential fits what the source accepts")

    def certificate_check(self, certificate: Any, valid: bool, host: bytes | str) -> bool:
        """Refuse a host libgit2 could not verify (a TLS certificate, or an SSH host key not in known_hosts)."""
        if not valid:
            shown = host.decode(errors="replace") if isinstance(host, bytes) else host
            raise _AuthFailed(
                f"the identity of {shown} could not be verified (its TLS certificate, or its SSH host key in ~/.ssh/known_hosts "
                "of the user running salt-shaker)"
            )
        return True

    def transfer_progress(self, stats: Any) -> None:
        if interrupts.requested():
            raise _Timeout("the run was interrupted")
        if stats.received_objects:
            faults.point("mid-fetch")
        if time.monotonic() > self._deadline:
            raise _Timeout("the transfer took too long")
        if self._progress is not None:
            self._progress(stats.received_objects, stats.total_objects)


class _AuthFailed(Exception):
    pass


class _Timeout(Exception):
    pass


def check_pygit2() -> str | None:
    """Why pygit2 cannot be used (too old, no https/ssh), or None."""
    version = tuple(int(part) for part in pygit2.__version__.split(".")[:2] if part.isdigit())
    if version < MIN_PYGIT2:
        return f"pygit2 {pygit2.__version__} is older than {'.'.join(map(str, MIN_PYGIT2))}"
    return None


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
        fetch_policy: str = "always",
        offline: bool = False,
        timeout: float = 120.0,
        progress: Callable[[str, int, int], None] | None = None,
        allowed_sources: tuple[str, ...] = (),
        max_manifest_bytes: int = DEFAULT_MAX_BYTES,
        stale_ok: bool = False,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.stale_ok = stale_ok  # a command that writes nothing reads a read-only cache as it is, instead of failing
        self.max_manifest_bytes = max_manifest_bytes
        self.allowed_sources = allowed_sources
        self.credentials = credentials or Credentials()
        self.fetch_policy = fetch_policy
        self.offline = offline
        self.timeout = timeout
        self.progress = progress
        self._pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="shaker-fetch")
        self._fetches: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._repos: dict[str, pygit2.Repository] = {}
        self._checked: set[str] = set()
        self._cache_read_only: bool | None = None
        self.fetched: list[str] = []
        _set_timeouts(timeout)

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
        path = self.cache_dir / mirror_name(url)
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return path
        if stat.S_ISLNK(mode):
            raise LayoutError(f"The cached mirror {path} is a symlink; salt-shaker never follows one (a fetch would rewrite the repository it points at): "
                              "remove the link and run again.")
        if not stat.S_ISDIR(mode):
            raise LayoutError(f"The cached mirror {path} is not a directory; remove it and run again (salt-shaker fetches the mirror afresh).")
        return path

    def prefetch(self, urls: Iterable[str]) -> None:
        """Start fetching, in the background (bounded pool), every URL the fetch policy says to fetch."""
        for url in urls:
            if self.fetch_policy == "always" or not self.mirror_path(url).exists():
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
                    raise GitError(f"{_describe(url)}: commit {commit} is not in the cache, and --offline forbids fetching it; run once without --offline.", url=redact(url))
                raise GitError(f"{_describe(url)} has no commit {commit}; the lock names a commit the source no longer has.", url=redact(url))

    def _check_source(self, url: str) -> None:
        """Refuse a URL git could misread (an option, a remote helper) or one outside ``allowed_sources``, before any use."""
        if url in self._checked:
            return
        reason = check_url(url)  # every URL, wherever it came from (template, project, lock, payload)
        if reason:
            raise GitError(f"{_describe(url)}: the source URL {reason}.", url=redact(url))
        if not allowed(url, self.allowed_sources):
            raise GitError(f"{_describe(url)} is not under an allowed source prefix ({', '.join(self.allowed_sources)}); "
                           "add its prefix to the 'allowed_sources' setting if it is trusted.", url=redact(url))
        self._checked.add(url)

    def _fetch_future(self, url: str) -> Future[None]:
        self._check_source(url)
        with self._lock:
            future = self._fetches.get(url)
            if future is None:
                future = self._pool.submit(self._sync_mirror, url)
                self._fetches[url] = future
            return future

    def _wait(self, url: str) -> None:
        if not self._wait_inflight(url) and (self.fetch_policy == "always" or not self.mirror_path(url).exists()):
            self._fetch_future(url).result()

    def _wait_inflight(self, url: str) -> bool:
        """Wait for a fetch of ``url`` this cache started (never read a mirror while it is fetched); whether there was one."""
        with self._lock:
            future = self._fetches.get(url)
        if future is not None:
            future.result()
        return future is not None

    def _sync_mirror(self, url: str) -> None:
        path = self.mirror_path(url)
        faults.point("before-fetch")
        if self.offline:
            if not path.exists():
                raise GitError(f"{_describe(url)} is not in the cache and --offline forbids fetching it; run once without --offline.", url=redact(url))
            return
        if self.stale_ok and self._read_only():
            if not path.exists():
                raise GitError(f"{_describe(url)} is not in the cache, and cache_dir {self.cache_dir} is read-only; "
                               "point cache_dir at a writable place.", url=redact(url))
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with _flock(path.with_name(path.name + ".lock")):
            with self._lock:
                opened = self._repos.pop(url, None)
            if opened is not None:  # readers wait for this fetch (_wait_inflight), so nobody else holds it now
                opened.free()  # libgit2 keeps packs open by path: a handle on a damaged one would outlive the clone that replaces it
            if path.exists() and self._usable(path):
                self._fetch_into(path, url)
            else:
                self._clone(path, url)
        with self._lock:
            self._repos.pop(url, None)
            self.fetched.append(url)

    def _read_only(self) -> bool:
        """Whether the cache exists but cannot be written (a read-only project): mirrors are then read as cached, once warned."""
        with self._lock:
            if self._cache_read_only is None:
                self._cache_read_only = self.cache_dir.is_dir() and not os.access(self.cache_dir, os.W_OK)
                if self._cache_read_only:
                    log.warning("cache_dir %s is read-only: using the mirrors as cached, without fetching (tags may be stale).", self.cache_dir)
            return self._cache_read_only

    def _usable(self, path: Path) -> bool:
        repo = None
        try:
            repo = pygit2.Repository(str(path))
            _check_refs_readable(repo)
            return True
        except (pygit2.GitError, KeyError, ValueError, OSError):
            log.warning("The cached mirror %s is damaged; cloning it again.", path.name)
            shutil.rmtree(path, ignore_errors=True)
            return False
        finally:
            if repo is not None:
                repo.free()  # libgit2 caches open packs by path: let go of the damaged one before a clone takes its place

    def _clone(self, path: Path, url: str) -> None:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=self.cache_dir))
        try:
            pygit2.init_repository(str(staging), bare=True)
            self._fetch_into(staging, url)
            os.rename(staging, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _fetch_into(self, path: Path, url: str) -> None:
        local = _local_path(url)
        if local is not None and not os.path.isdir(local):  # decided here, not read from libgit2's wording
            raise GitError(f"Fetching {_describe(url)} failed: there is no repository at {local}; check that the source exists and is reachable.",
                           url=redact(url))
        if local is not None:
            self._seed(Path(local), path, url)
        repo = pygit2.Repository(str(path))
        remote = repo.remotes.create_anonymous(url)
        progress = self._progress_for(url)
        callbacks = _Callbacks(self.credentials.for_url(url), time.monotonic() + self.timeout, progress)
        started = time.monotonic()
        try:
            stats = remote.fetch(REFSPECS, callbacks=callbacks, prune=pygit2.enums.FetchPrune.PRUNE)
            if progress is not None:  # the last word, also when nothing was transferred (a seeded or current mirror)
                progress(stats.received_objects, stats.received_objects)
        except (_AuthFailed, _Timeout) as exc:
            raise GitError(f"Fetching {_describe(url)} failed: {exc}; check the 'credentials' setting and that the source is reachable.", url=redact(url)) from None
        except (pygit2.GitError, OSError) as exc:
            reason = _scrub(str(exc), url, self.credentials.secrets())
            raise GitError(f"Fetching {_describe(url)} failed: {reason}; check that the source exists and is reachable.", url=redact(url)) from None
        log.debug("fetched %s in %.2fs", redact(url), time.monotonic() - started)

    def _seed(self, local: Path, mirror: Path, url: str) -> None:
        try:
            _seed_from_local(local, mirror)
        except _Timeout as exc:
            raise GitError(f"Fetching {_describe(url)} failed: {exc}.", url=redact(url)) from None
        except OSError as exc:
            raise GitError(f"Fetching {_describe(url)} failed: {exc.strerror or exc}; check that the source is readable and that the cache has room.",
                           url=redact(url)) from None

    def _progress_for(self, url: str) -> Callable[[int, int], None] | None:
        if self.progress is None:
            return None
        label = name_from_url(url) or redact(url)
        progress = self.progress
        return lambda received, total: progress(label, received, total)

    def _repo(self, url: str) -> pygit2.Repository:
        with self._lock:
            repo = self._repos.get(url)
            if repo is None:
                self._check_source(url)  # a mirror already in a shared cache is read without a fetch
                path = self.mirror_path(url)
                if not path.exists():
                    raise GitError(f"{_describe(url)} is not in the cache; fetch it first.", url=redact(url))
                repo = pygit2.Repository(str(path))
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
                commit = _peel_commit(ref)
                if commit is not None:
                    found[ref.name[len(prefix):]] = commit
        return found

    def manifest_at(self, source: str, commit: str) -> Manifest:
        """The metadata.yml at ``commit`` (completed from a FORMULA file); empty when there is neither."""
        data = self.read_file(source, commit, MANIFEST_FILE)
        if data is None:
            manifest = Manifest(path=f"{name_from_url(source) or redact(source)}@{commit[:12]}:{MANIFEST_FILE}")
        else:
            manifest = parse_manifest(data, f"{MANIFEST_FILE} at {commit[:12]}", root=False, max_bytes=self.max_manifest_bytes)
        formula = self.read_file(source, commit, formula_file.FILENAME) if not manifest.exports else None
        if formula is None:
            return manifest
        info = formula_file.parse(formula, f"{formula_file.FILENAME} at {commit[:12]}", max_bytes=self.max_manifest_bytes)
        org = (name_from_url(source) or "/").split("/")[0]
        return formula_file.merge(manifest, info, org)

    # -- reading and exporting --

    def has_commit(self, url: str, commit: str) -> bool:
        """Whether the mirror holds ``commit`` (an object database look-up; nothing is parsed)."""
        self._wait_inflight(url)
        if not self.mirror_path(url).exists():
            return False
        try:
            return commit in self._repo(url)
        except (ValueError, pygit2.GitError):
            return False

    def ref(self, url: str, name: str) -> str | None:
        """The commit one ref (``refs/tags/v1.0.0``) names, without listing every ref."""
        self._wait(url)
        reference = self._repo(url).references.get(name)
        return _peel_commit(reference) if reference is not None else None

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
            return _blob_data(repo, entry.id)

    def list_top(self, url: str, commit: str) -> dict[str, str]:
        """The top-level entries of the commit's tree: name -> ``tree``/``blob``/``commit``."""
        return {entry.name or "": entry.type_str for entry in self._tree(url, commit)}

    def export(self, url: str, commit: str, dest: Path, *, label: str = "", max_bytes: int | None = None) -> int:
        """Write the commit's tree into ``dest`` (which must not exist); return bytes written."""
        tree = self._tree(url, commit)
        writer = _TreeWriter(self._repo(url), label or f"{name_from_url(url)} {commit[:12]}", max_bytes)
        dest.mkdir(parents=True)
        with self._reading(url):
            writer.write(tree, dest, "")
        return writer.written

    def tree_entries(self, url: str, commit: str) -> dict[str, tuple[str, str]]:
        """Every file and symlink of the commit's tree, as an export writes it: path -> (``file``/``exec``, blob id) or (``link``, target)."""
        tree = self._tree(url, commit)
        found: dict[str, tuple[str, str]] = {}
        with self._reading(url):
            _collect_entries(self._repo(url), tree, "", found)
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
                raise GitError(f"{_describe(url)} has no commit {commit}.", url=redact(url)) from None
            return obj.peel(pygit2.Tree)

    @contextmanager
    def _reading(self, url: str) -> Iterator[None]:
        """An object the mirror cannot read (a damaged pack) is a GitError, and the mirror is dropped so the next run clones it afresh."""
        try:
            yield
        except pygit2.GitError as exc:
            path = self.mirror_path(url)
            with self._lock:
                opened = self._repos.pop(url, None)
            if opened is not None:
                opened.free()  # reads of a mirror happen in one thread: the one that just failed
            with _flock(path.with_name(path.name + ".lock")):
                shutil.rmtree(path, ignore_errors=True)
            reason = _scrub(str(exc), url, self.credentials.secrets())
            raise GitError(f"The cached mirror of {_describe(url)} is damaged ({reason}); it was removed: run again to fetch it afresh.", url=redact(url)) from None


class _TreeWriter:
    """Writes git trees to disk, refusing entries that could escape or publish .git."""

    def __init__(self, repo: pygit2.Repository, label: str, max_bytes: int | None) -> None:
        self.repo = repo
        self.label = label
        self.max_bytes = max_bytes
        self.written = 0

    def write(self, tree: pygit2.Tree, directory: Path, rel: str) -> None:
        for entry in tree:
            name = entry.name or ""
            path = f"{rel}{name}"
            self._check_name(name, path)
            if entry.filemode == _MODE_TREE:
                (directory / name).mkdir()
                self.write(self.repo[entry.id].peel(pygit2.Tree), directory / name, f"{path}/")
            elif entry.filemode == _MODE_COMMIT:
                log.warning("%s: submodule %s is not published (salt-shaker does not fetch submodules).", self.label, printable(path))
            elif entry.filemode == _MODE_LINK:
                self._write_link(entry, directory / name, path)
            else:
                self._write_blob(entry, directory / name, path)

    def _check_name(self, name: str, path: str) -> None:
        if name in ("", ".", "..") or "/" in name or "\0" in name or "\\" in name:
            raise LayoutError(f"{self.label} has an unsafe path '{path}'; salt-shaker refuses to publish it.")
        if name.lower() == ".git":
            raise LayoutError(f"{self.label} contains '{path}'; salt-shaker never publishes .git: remove it from the formula.")

    def _write_blob(self, entry: Any, target: Path, path: str) -> None:
        # the size comes from the object header, so a blob over the limit is never inflated into memory
        size = blob_size(self.repo, entry.id)
        self.written += size
        if self.max_bytes is not None and self.written > self.max_bytes:
            raise LimitExceeded(f"{self.label} is larger than {self.max_bytes} bytes (the limit is passed at '{printable(path)}', a file of {size} bytes); "
                                "raise the 'max_formula_bytes' setting if that is intended.")
        blob = self.repo[entry.id].peel(pygit2.Blob)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755 if entry.filemode == _MODE_EXEC else 0o644)
        with os.fdopen(fd, "wb") as handle, memoryview(blob) as content:
            handle.write(content)  # libgit2's buffer itself: no copy in Python
        del blob
        faults.point("mid-export")

    def _write_link(self, entry: Any, target: Path, path: str) -> None:
        if blob_size(self.repo, entry.id) > MAX_LINK_BYTES:
            raise LayoutError(f"{self.label} has a symlink '{path}' whose target is longer than {MAX_LINK_BYTES} bytes; salt-shaker refuses to publish it.")
        link = _blob_data(self.repo, entry.id).decode("utf-8", "replace")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), link))
        if link.startswith("/") or resolved == ".." or resolved.startswith("../") or "\0" in link:
            raise LayoutError(f"{self.label} has a symlink '{path}' pointing outside the formula ({link}); salt-shaker refuses to publish it.")
        os.symlink(link, target)


def _seed_from_local(source: Path, mirror: Path) -> None:
    """Copy into the mirror every object file of a repository on this machine that it lacks.

    A fetch over file:// goes through libgit2's local transport, which packs the
    objects to send in memory: a 300 MB blob would cost 300 MB or more. With the
    object files copied first (streamed, never hard-linked, so damage to one copy
    never reaches the other), the fetch that follows only maps the refs. Each file
    lands under its final name by a rename; pack indexes come last, since libgit2
    finds a pack by its index.
    """
    objects = source / "objects"
    wanted = [path for path in _object_files(objects) if not (mirror / "objects" / path.relative_to(objects)).exists()]
    for path in sorted(wanted, key=lambda p: p.suffix == ".idx"):
        target = mirror / "objects" / path.relative_to(objects)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"tmp_seed_{os.getpid()}_{target.name}")
        try:
            shutil.copyfile(path, partial, follow_symlinks=False)
        except FileNotFoundError:  # packed or pruned by the source meanwhile: the fetch brings what is still needed
            continue
        os.replace(partial, target)
        if interrupts.requested():
            raise _Timeout("the run was interrupted")
        faults.point("mid-fetch")


def _object_files(objects: Path) -> Iterator[Path]:
    """Complete loose objects and packs under ``objects`` (regular files only; never temporary files, quarantines or alternates)."""
    for directory, dirnames, filenames in os.walk(objects):
        here = Path(directory)
        if here == objects:
            dirnames[:] = [d for d in dirnames if d == "pack" or (len(d) == 2 and all(c in "0123456789abcdef" for c in d))]
        for name in filenames:
            path = here / name
            in_pack = here.name == "pack" and name.endswith((".pack", ".idx", ".rev"))
            loose = here.name != "pack" and len(name) >= 38 and not name.startswith("tmp")
            if (in_pack or loose) and not name.startswith("tmp") and stat.S_ISREG(os.lstat(path).st_mode):
                yield path


def _check_refs_readable(repo: pygit2.Repository) -> None:
    """Read every ref's object (and a commit's tree): a truncated or garbled pack, or lost objects, raise here."""
    for ref in repo.listall_reference_objects():
        target = ref.peel(None)  # through annotated tags, to the commit (or tree or blob) they name
        if isinstance(target, pygit2.Commit):
            target.tree  # noqa: B018 - reading it is the check


def _collect_entries(repo: pygit2.Repository, tree: pygit2.Tree, rel: str, found: dict[str, tuple[str, str]]) -> None:
    for entry in tree:
        path = f"{rel}{entry.name}"
        if entry.filemode == _MODE_TREE:
            _collect_entries(repo, repo[entry.id].peel(pygit2.Tree), f"{path}/", found)
        elif entry.filemode == _MODE_LINK:
            found[path] = ("link", _blob_data(repo, entry.id).decode("utf-8", "replace"))
        elif entry.filemode != _MODE_COMMIT:  # submodules are never exported
            found[path] = ("exec" if entry.filemode == _MODE_EXEC else "file", str(entry.id))


def hash_file(path: Path) -> str:
    """The git blob id of a file's bytes (no filters), read in chunks."""
    return str(pygit2.hashfile(str(path)))


def blob_size(repo: pygit2.Repository, oid: Any) -> int:
    """The size of a blob, read from its object header without inflating it.

    Asked of each object-database backend (loose, packed) in turn: ``Odb.read_header``
    itself only exists in pygit2 releases newer than the declared minimum.
    """
    for backend in repo.odb.backends:
        try:
            return int(backend.read_header(oid)[1])
        except KeyError:  # not in this backend (pygit2's NotFoundError is a KeyError)
            continue
    raise pygit2.GitError(f"object {oid} is in no backend of the object database")


def _blob_data(repo: pygit2.Repository, oid: Any) -> bytes:
    return bytes(repo[oid].peel(pygit2.Blob).data)


@lru_cache(maxsize=8192)
def mirror_name(url: str) -> str:
    """``<org>-<name>-<16 hex of sha256(URL without credentials)>.git``."""
    clean = strip_credentials(url)
    digest = hashlib.sha256(clean.encode()).hexdigest()[:16]
    slug = _SLUG_RE.sub("-", name_from_url(clean) or "repo").strip("-")[:60]
    return f"{slug}-{digest}.git"


def _peel_commit(ref: Any) -> str | None:
    try:
        return str(ref.peel(pygit2.Commit).id)
    except (pygit2.GitError, ValueError, KeyError, pygit2.InvalidSpecError):
        return None


def _local_path(url: str) -> str | None:
    """The directory a file:// URL names; None for other URLs."""
    if not url.startswith("file://"):
        return None
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path)


def _describe(url: str) -> str:
    name = name_from_url(url)
    return f"{name} ({redact(url)})" if name else redact(url)


def _scrub(text: str, url: str, secrets: list[str]) -> str:
    text = text.replace(url, redact(url)).strip().rstrip(".")
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _set_timeouts(seconds: float) -> None:
    # pygit2 1.18.2 and newer (the declared minimum): without these a silent remote blocks forever
    milliseconds = int(seconds * 1000)
    pygit2.settings.server_connect_timeout = milliseconds
    pygit2.settings.server_timeout = milliseconds


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
