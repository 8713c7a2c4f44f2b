"""Git objects on disk: exporting a tree, listing its entries, sizes from headers, seeding a mirror from a local repository."""
from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import shutil
import stat
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import pygit2

from . import faults, interrupts
from .errors import LayoutError, LimitExceeded, printable
from .gitauth import Timeout
from .sources import name_from_url, strip_credentials

log = logging.getLogger(__name__)

MAX_LINK_BYTES = 4096  # PATH_MAX: no file system follows a longer symlink target
MODE_TREE, MODE_LINK, MODE_COMMIT, MODE_EXEC = 0o040000, 0o120000, 0o160000, 0o100755


class TreeWriter:
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
            if entry.filemode == MODE_TREE:
                (directory / name).mkdir()
                self.write(self.repo[entry.id].peel(pygit2.Tree), directory / name, f"{path}/")
            elif entry.filemode == MODE_COMMIT:
                log.warning("%s: submodule %s is not published (salt-shaker does not fetch submodules).", self.label, printable(path))
            elif entry.filemode == MODE_LINK:
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
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755 if entry.filemode == MODE_EXEC else 0o644)
        with os.fdopen(fd, "wb") as handle, memoryview(blob) as content:
            handle.write(content)  # libgit2's buffer itself: no copy in Python
        del blob
        faults.point("mid-export")

    def _write_link(self, entry: Any, target: Path, path: str) -> None:
        if blob_size(self.repo, entry.id) > MAX_LINK_BYTES:
            raise LayoutError(f"{self.label} has a symlink '{path}' whose target is longer than {MAX_LINK_BYTES} bytes; salt-shaker refuses to publish it.")
        link = blob_data(self.repo, entry.id).decode("utf-8", "replace")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), link))
        if link.startswith("/") or resolved == ".." or resolved.startswith("../") or "\0" in link:
            raise LayoutError(f"{self.label} has a symlink '{path}' pointing outside the formula ({link}); salt-shaker refuses to publish it.")
        os.symlink(link, target)


SEED_MIN_BYTES = 16 * 1024 * 1024


def seed_from_local(source: Path, mirror: Path, min_bytes: int = SEED_MIN_BYTES) -> None:
    """Copy into the mirror every object file of a repository on this machine that it lacks, when they are big.

    A fetch over file:// goes through libgit2's local transport, which packs the
    objects to send in memory: a 300 MB blob would cost 300 MB or more. With the
    object files copied first (streamed, never hard-linked, so damage to one copy
    never reaches the other), the fetch that follows only maps the refs. Each file
    lands under its final name by a rename; pack indexes come last, since libgit2
    finds a pack by its index. Only loose objects whose headers say they inflate
    to less than ``min_bytes`` in all are left to the fetch: packing them costs
    little memory, and copying a hundred small files one by one costs more than
    the fetch does.
    """
    objects = source / "objects"
    present = list(object_files(objects))
    if _loose_and_small(present, min_bytes):
        return
    wanted = [path for path in present if not (mirror / "objects" / path.relative_to(objects)).exists()]
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
            raise Timeout("the run was interrupted")
        faults.point("mid-fetch")


def _loose_and_small(paths: list[Path], min_bytes: int) -> bool:
    """Whether every object file is a loose object, and they inflate to less than ``min_bytes`` together (read from their headers)."""
    total = 0
    for path in paths:
        if path.parent.name == "pack":
            return False
        try:
            total += _loose_size(path)
        except (OSError, zlib.error, ValueError, IndexError):
            return False  # unreadable here: seeding reports it with the file's name
        if total >= min_bytes:
            return False
    return True


def _loose_size(path: Path) -> int:
    """The inflated size a loose object's header states (``blob 1234\\0``); raw reads, since a forge holds thousands of them."""
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        header = zlib.decompressobj().decompress(os.read(handle, 64), 64)
    finally:
        os.close(handle)
    return int(header.split(b"\0", 1)[0].split(b" ")[1])


def object_files(objects: Path) -> Iterator[Path]:
    """Complete loose objects and packs under ``objects`` (regular files only; never temporary files, quarantines or alternates)."""
    try:
        top = [entry for entry in os.scandir(objects) if entry.is_dir(follow_symlinks=False) and _is_object_dir(entry.name)]
    except (FileNotFoundError, NotADirectoryError):
        return
    for directory in top:
        in_pack = directory.name == "pack"
        for entry in os.scandir(directory.path):
            wanted = entry.name.endswith((".pack", ".idx", ".rev")) if in_pack else len(entry.name) >= 38
            if wanted and not entry.name.startswith("tmp") and entry.is_file(follow_symlinks=False):  # the type from the listing: no stat
                yield Path(entry.path)


def _is_object_dir(name: str) -> bool:
    return name == "pack" or (len(name) == 2 and all(c in "0123456789abcdef" for c in name))


def check_refs_readable(repo: pygit2.Repository) -> None:
    """Read every ref's object (and a commit's tree): a truncated or garbled pack, or lost objects, raise here."""
    for ref in repo.listall_reference_objects():
        target = ref.peel(None)  # through annotated tags, to the commit (or tree or blob) they name
        if isinstance(target, pygit2.Commit):
            target.tree  # noqa: B018 - reading it is the check


def collect_entries(repo: pygit2.Repository, tree: pygit2.Tree, rel: str, found: dict[str, tuple[str, str]]) -> None:
    for entry in tree:
        path = f"{rel}{entry.name}"
        if entry.filemode == MODE_TREE:
            collect_entries(repo, repo[entry.id].peel(pygit2.Tree), f"{path}/", found)
        elif entry.filemode == MODE_LINK:
            found[path] = ("link", blob_data(repo, entry.id).decode("utf-8", "replace"))
        elif entry.filemode != MODE_COMMIT:  # submodules are never exported
            found[path] = ("exec" if entry.filemode == MODE_EXEC else "file", str(entry.id))


def hash_file(path: str | Path) -> str:
    """The git blob id of a file's bytes (no filters), read in chunks."""
    return str(pygit2.hashfile(str(path)))


def hash_text(text: str) -> str:
    """The git blob id of ``text`` encoded as UTF-8."""
    return str(pygit2.hash(text.encode()))


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


def blob_data(repo: pygit2.Repository, oid: Any) -> bytes:
    return bytes(repo[oid].peel(pygit2.Blob).data)


@dataclass(frozen=True)
class SignedParts:
    """What a signature check reads from a mirror: the raw tag object a tag ref names, and the commit's own signature."""

    tag_id: str | None = None  # None: no such tag, or a lightweight one
    tag_raw: bytes = b""
    tag_commit: str | None = None  # the commit the tag names, through every tag object
    commit_signature: bytes | None = None
    commit_payload: bytes = b""


def signed_parts(repo: pygit2.Repository, tag: str | None, commit: str) -> SignedParts:
    """The raw annotated tag object ``refs/tags/<tag>`` points at (when it is one) and ``commit``'s signature and signed data."""
    tag_id, tag_raw, tag_commit = None, b"", None
    reference = repo.references.get(f"refs/tags/{tag}") if tag else None
    if reference is not None:
        target = repo[reference.target]
        if isinstance(target, pygit2.Tag):
            tag_id, tag_raw, tag_commit = str(target.id), bytes(target.read_raw()), peel_commit(reference)
    signature, payload = repo[commit].peel(pygit2.Commit).gpg_signature
    return SignedParts(tag_id, tag_raw, tag_commit, signature, payload or b"")


MIN_PYGIT2 = (1, 14)
_SLUG_RE = re.compile(r"[^A-Za-z0-9_.-]+")


def check_pygit2() -> str | None:
    """Why pygit2 cannot be used (too old, no https/ssh), or None."""
    version = tuple(int(part) for part in pygit2.__version__.split(".")[:2] if part.isdigit())
    if version < MIN_PYGIT2:
        return f"pygit2 {pygit2.__version__} is older than {'.'.join(map(str, MIN_PYGIT2))}"
    return None


@lru_cache(maxsize=8192)
def mirror_name(url: str) -> str:
    """``<org>-<name>-<16 hex of sha256(URL without credentials)>.git``."""
    clean = strip_credentials(url)
    digest = hashlib.sha256(clean.encode()).hexdigest()[:16]
    slug = _SLUG_RE.sub("-", name_from_url(clean) or "repo").strip("-")[:60]
    return f"{slug}-{digest}.git"


def peel_commit(ref: Any) -> str | None:
    """The commit a ref names (through annotated tags), or None when it names no commit."""
    try:
        return str(ref.peel(pygit2.Commit).id)
    except (pygit2.GitError, ValueError, KeyError, pygit2.InvalidSpecError):
        return None


def mirror_present(path: Path) -> bool:
    """Whether a mirror directory is at ``path``; a symlink or a file there is a LayoutError (a fetch must never follow one)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    if stat.S_ISLNK(mode):
        raise LayoutError(f"The cached mirror {path} is a symlink; salt-shaker never follows one (a fetch would rewrite the repository it points at): "
                          "remove the link and run again.")
    if not stat.S_ISDIR(mode):
        raise LayoutError(f"The cached mirror {path} is not a directory; remove it and run again (salt-shaker fetches the mirror afresh).")
    return True


def is_commit_object(repo: pygit2.Repository, oid: str) -> bool:
    """Whether ``oid`` names a commit in ``repo``. The object is read whole: a damaged pack fails here (a GitError), not later."""
    return isinstance(repo.get(oid), pygit2.Commit)
