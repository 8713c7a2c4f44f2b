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
    for directory, dirnames, filenames in os.walk(source):
        rel = os.path.relpath(directory, source)
        if rel == ".":
            dirnames[:] = sorted(d for d in dirnames if d not in skip)
            filenames = [f for f in filenames if f not in skip]
        out_dir = target if rel == "." else target / rel
        for name in dirnames:
            src = Path(directory) / name
            if src.is_symlink():
                _place_file(src, out_dir / name, source, owner, owners, f"{label}/{name}" if rel == "." else f"{label}/{rel}/{name}")
            else:
                (out_dir / name).mkdir(exist_ok=True)
        for name in filenames:
            _place_file(Path(directory) / name, out_dir / name, source, owner, owners, f"{label}/{name}" if rel == "." else f"{label}/{rel}/{name}")


def _place_file(src: Path, dst: Path, root: Path, owner: _Owner, owners: dict[str, str], rel: str) -> None:
    if rel in owners:
        raise LayoutError(f"{owners[rel]} and {owner.name} both publish '{rel}'; rename the file in one of them.")
    owners[rel] = owner.name
    if src.is_symlink():
        _place_link(src, dst, root, rel, owner)
    else:
        os.link(src, dst)


def _place_link(src: Path, dst: Path, root: Path, rel: str, owner: _Owner) -> None:
    target = os.readlink(src)
    resolved = os.path.normpath(os.path.join(os.path.dirname(src), target))
    if os.path.isabs(target) or os.path.commonpath([resolved, str(root)]) != str(root):
        raise LayoutError(f"{owner.label}: the symlink '{rel}' points outside what the formula publishes there ({target}); salt-shaker refuses to publish it.")
    os.symlink(target, dst)
