"""Compare a tree on disk with what git says it holds: files edited, added or deleted.

Releases are hard links into ``vendor/store``, so an edit of a served file in
place changes the store entry and every release sharing it. What a tree should
hold is read from git (blob ids, modes and link targets of the pinned commits,
through ``entries_of``); what it holds is read from disk, each file hashed as a
git blob. No module here reads git itself: the caller passes those functions.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from . import release_file
from .layout import ReleaseInfo
from .reports import TreeData

Entry = tuple[str, str]  # ("file" | "exec", blob id) or ("link", target); ("other", "") for a FIFO, device or socket
EntriesOf = Callable[[str, str], "dict[str, Entry] | None"]  # (source, commit) -> every path of the commit's tree, or None unreadable
HashFile = Callable[[str], str]  # a file path -> its git blob id


@dataclass(frozen=True, kw_only=True, slots=True)
class TreeDiff:
    """Paths (relative to the tree) whose content, mode or link target differs, that git lacks, or that disk lacks."""

    edited: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()  # formulas whose commits could not be read (no cached mirror)

    def __bool__(self) -> bool:
        return bool(self.edited or self.added or self.deleted)

    def summary(self) -> str:
        """``2 edited, 1 deleted`` (the kinds present), with a few paths."""
        parts = [f"{len(paths)} {kind}" for kind, paths in (("edited", self.edited), ("added", self.added), ("deleted", self.deleted)) if paths]
        shown = [*self.edited, *self.added, *self.deleted]
        return f"{', '.join(parts)}: {', '.join(shown[:3])}{', ...' if len(shown) > 3 else ''}"

    def as_dict(self) -> TreeData:
        return {"edited": list(self.edited), "added": list(self.added), "deleted": list(self.deleted), "unverified": list(self.unverified)}


def scan(root: Path, hash_file: HashFile) -> dict[str, Entry]:
    """Every file and symlink under ``root`` as git would record it, never following a link."""
    found: dict[str, Entry] = {}
    _scan_into(found, str(root), "", hash_file)
    return found


def _scan_into(found: dict[str, Entry], directory: str, prefix: str, hash_file: HashFile) -> None:
    # plain strings and scandir: a release holds thousands of files and this runs on every build
    try:
        listing = os.scandir(directory)
    except OSError:  # a missing or unreadable directory holds nothing, as os.walk would say
        return
    with listing as entries:
        for entry in entries:
            rel = prefix + entry.name
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISLNK(mode):
                found[rel] = ("link", os.readlink(entry.path))
            elif stat.S_ISDIR(mode):
                _scan_into(found, entry.path, rel + "/", hash_file)
            elif stat.S_ISREG(mode):
                found[rel] = ("exec" if mode & stat.S_IXUSR else "file", hash_file(entry.path))
            else:
                found[rel] = ("other", "")


def compare(expected: Mapping[str, Entry], actual: Mapping[str, Entry], ignore: Callable[[str], bool] = lambda _: False) -> TreeDiff:
    """What differs between ``expected`` and ``actual``; paths ``ignore`` accepts are not judged."""
    edited = sorted(p for p in expected.keys() & actual.keys() if expected[p] != actual[p])
    added = sorted(p for p in actual.keys() - expected.keys() if not ignore(p))
    deleted = sorted(p for p in expected.keys() - actual.keys() if not ignore(p))
    return TreeDiff(edited=tuple(edited), added=tuple(added), deleted=tuple(deleted))


def check_release(release: Path, formulas: Mapping[str, Mapping[str, Any]], entries_of: EntriesOf, hash_file: HashFile,
                  own: Mapping[str, Entry] | None = None) -> TreeDiff:
    """A release directory against the commits its record pins, laid out as the release lays them out, plus ``own``
    (the release's own files: its description), which are judged unless ``None`` (a release built before it had them)."""
    expected: dict[str, Entry] = dict(own or {})
    unverified: list[str] = []
    for name, record in sorted(formulas.items()):
        entries = entries_of(record["source"], record["commit"])
        if entries is None:
            unverified.append(name)
        else:
            expected.update(release_paths(entries, record))
    opaque = _paths_of(unverified, formulas)
    diff = compare(expected, scan(release, hash_file), ignore=lambda path: _under(path, opaque))
    return TreeDiff(edited=diff.edited, added=diff.added, deleted=diff.deleted, unverified=tuple(unverified))


def release_paths(entries: Mapping[str, Entry], record: Mapping[str, Any]) -> dict[str, Entry]:
    """Where a formula's tree lands in a release: each export, then its ``_<type>`` module directories."""
    top_dirs = {path.split("/", 1)[0] for path in entries if "/" in path}
    module_dirs = set(record.get("module_dirs", ()))
    placed: dict[str, Entry] = {}
    for export in record.get("exports", ()):
        if export in top_dirs:  # the export is a directory of the tree
            placed.update({f"{export}/{path[len(export) + 1:]}": e for path, e in entries.items() if path.startswith(f"{export}/")})
        else:  # the whole tree is the export (an init.sls at its top), less its module directories
            placed.update({f"{export}/{path}": e for path, e in entries.items() if path.split("/", 1)[0] not in module_dirs})
    for module_dir in module_dirs:
        placed.update({path: e for path, e in entries.items() if path.startswith(f"{module_dir}/")})
    return placed


def _paths_of(names: list[str], formulas: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The release directories an unreadable formula owns (its exports; module directories are shared)."""
    return {export for name in names for export in formulas[name].get("exports", ())} | {
        module_dir for name in names for module_dir in formulas[name].get("module_dirs", ())
    }


def _under(path: str, tops: set[str]) -> bool:
    return path.split(os.sep, 1)[0] in tops


@dataclass(frozen=True, kw_only=True, slots=True)
class TreeCheck:
    """Judges trees against git, given how to read a commit's entries and how to hash a file."""

    entries_of: EntriesOf
    hash_file: HashFile
    hash_text: Callable[[str], str]
    checked: dict[str, TreeDiff] = field(default_factory=dict)  # release directory -> what differed, while this check lives

    def store_entry(self, source: str, commit: str, tree: Path) -> TreeDiff | None:
        """A store entry against its commit; None when the commit cannot be read."""
        expected = self.entries_of(source, commit)
        return None if expected is None else compare(expected, scan(tree, self.hash_file))

    def release(self, release: Path, info: ReleaseInfo) -> TreeDiff:
        """A release directory against the commits its record pins and its own description (each directory read once per check)."""
        if str(release) not in self.checked:
            own = {release_file.PATH: ("file", self.hash_text(release_file.render(info.description)))} if info.description else None
            self.checked[str(release)] = check_release(release, info.formulas, self.entries_of, self.hash_file, own)
        return self.checked[str(release)]
