"""Assemble a release in staging: hard-link each formula's published parts, then judge every link where it resolves."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .containment import check_release
from .errors import LayoutError
from .layout import LayoutPlan


def assemble(staging: Path, plan: LayoutPlan, store: Path) -> None:
    """Hard-link every formula's published parts into ``staging``, then judge every link where it resolves."""
    owners: dict[str, str] = {}
    for formula in plan.formulas:
        tree = store / formula.commit
        owner = _Owner(formula.name, f"{formula.name} {formula.ref}")
        for export, subdir in formula.exports:
            skip = set(formula.module_dirs) if subdir == "" else set()
            _link_tree(tree / subdir if subdir else tree, staging / export, skip, owner, owners, export)
        for module_dir in formula.module_dirs:
            _link_tree(tree / module_dir, staging / module_dir, set(), owner, owners, module_dir)
    exports = {export: formula.name for formula in plan.formulas for export, _ in formula.exports}
    refs = {formula.name: formula.ref for formula in plan.formulas}
    check_release(
        staging,
        owner_of=lambda rel: exports.get(rel.split(os.sep, 1)[0]) or owners.get(rel),
        label_of=lambda name: f"{name} {refs.get(name, '')}".strip(),
    )


@dataclass(frozen=True)
class _Owner:
    name: str
    label: str  # "<name> <ref>", for messages


def _link_tree(source: Path, target: Path, skip: set[str], owner: _Owner, owners: dict[str, str], label: str) -> None:
    """Hard-link every file of ``source`` into ``target``; a file two formulas publish is an error."""
    target.mkdir(exist_ok=True)
    _link_dir(str(source), str(target), skip, _Placing(owner=owner, owners=owners, root=str(source)), label)


@dataclass(frozen=True)
class _Placing:
    owner: _Owner
    owners: dict[str, str]  # release path -> the formula that placed it
    root: str  # the formula directory being linked, which its links must stay inside


def _link_dir(src_dir: str, dst_dir: str, skip: set[str], placing: _Placing, rel: str) -> None:
    # plain strings and scandir: a release links thousands of files and this runs on every build
    try:
        with os.scandir(src_dir) as listing:
            entries = [entry for entry in listing if entry.name not in skip]
    except OSError:  # missing, not a directory, or a link loop: nothing there to publish, as os.walk would find
        return
    for entry in entries:
        dst, entry_rel = os.path.join(dst_dir, entry.name), f"{rel}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            os.makedirs(dst, exist_ok=True)
            _link_dir(entry.path, dst, set(), placing, entry_rel)
        else:
            _place_file(entry, dst, placing, entry_rel)


def _place_file(src: os.DirEntry[str], dst: str, placing: _Placing, rel: str) -> None:
    if rel in placing.owners:
        raise LayoutError(f"{placing.owners[rel]} and {placing.owner.name} both publish '{rel}'; rename the file in one of them.")
    placing.owners[rel] = placing.owner.name
    if src.is_symlink():
        _place_link(src.path, dst, placing.root, rel, placing.owner)
    else:
        os.link(src.path, dst)


def _place_link(src: str, dst: str, root: str, rel: str, owner: _Owner) -> None:
    target = os.readlink(src)
    resolved = os.path.normpath(os.path.join(os.path.dirname(src), target))
    if os.path.isabs(target) or os.path.commonpath([resolved, root]) != root:
        raise LayoutError(f"{owner.label}: the symlink '{rel}' points outside what the formula publishes there ({target}); salt-shaker refuses to publish it.")
    os.symlink(target, dst)
