"""Symlinks are judged by where they resolve on disk, never by their text.

Salt follows symlinks in ``file_roots``, and ``saltutil.sync_all`` pushes
``_modules/`` to every minion, so a link that resolves outside what its formula
publishes would serve the master's own files to the fleet. A link's text can
look contained while it climbs through another in-tree link (``dir -> a/b``,
then ``dir/../../..``). So every check here resolves each link with
``os.path.realpath`` on the laid-out tree, following every other link exactly as
the kernel will, and compares the result with what the link's formula owns.
A dangling link or a loop resolves to a path the kernel refuses to open, so it
is judged by that path as well.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import LayoutError

Owner = Callable[[str], "str | None"]  # a path relative to the tree root -> the formula that published it


def symlinks(root: Path) -> Iterator[Path]:
    """Every symlink under ``root``, never descending through one."""
    pending = [str(root)]
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except OSError:  # gone or unreadable: nothing below it is served either (as os.walk would skip it)
            continue
        with listing as entries:
            for entry in entries:
                if entry.is_symlink():
                    yield Path(entry.path)
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)


def resolved_inside(path: Path, root: Path) -> str | None:
    """Where ``path`` resolves, relative to ``root`` ("" for root itself); None when outside ``root``."""
    real = os.path.realpath(path)
    top = os.path.realpath(root)
    if real != top and not real.startswith(top + os.sep):
        return None
    return os.path.relpath(real, top) if real != top else ""


def check_stored_tree(tree: Path, label: str) -> None:
    """Refuse a formula's exported tree if any link in it resolves outside the tree."""
    for link in symlinks(tree):
        if resolved_inside(link, tree) is None:
            raise LayoutError(_outside(label, link.relative_to(tree), link, "the formula"))


def check_release(staging: Path, owner_of: Owner, label_of: Callable[[str], str]) -> None:
    """Refuse a release in which a link resolves outside what its own formula publishes there.

    ``owner_of`` names the formula that placed a path (a link, a file, or an
    export directory); a link may resolve only to a path of the same formula,
    and to a directory only if every file beneath it is that formula's.
    """
    for link in symlinks(staging):
        rel = str(link.relative_to(staging))
        owner = owner_of(rel)
        target = resolved_inside(link, staging)
        if owner is None or target is None or target == "" or not _owned_by(staging, target, owner, owner_of):
            raise LayoutError(_outside(label_of(owner) if owner else "", Path(rel), link, f"what {owner or 'its formula'} publishes"))


def _owned_by(staging: Path, target: str, owner: str, owner_of: Owner) -> bool:
    """Whether the resolved ``target`` is ``owner``'s: its file, or a directory of nothing but its files."""
    real = staging / target
    if not real.is_dir():
        return owner_of(target) == owner
    if owner_of(target) not in (owner, None):  # None: a directory that module files of several formulas share
        return False
    for directory, _, filenames in os.walk(real):
        for name in filenames:
            if owner_of(os.path.relpath(os.path.join(directory, name), staging)) != owner:
                return False
    return True


def _outside(label: str, rel: Path, link: Path, where: str) -> str:
    subject = f"{label}: the symlink" if label else "The symlink"
    return (f"{subject} '{rel}' ({os.readlink(link)}) resolves outside {where}; "
            "salt-shaker refuses to publish it: make the link point at a file of the formula itself.")
