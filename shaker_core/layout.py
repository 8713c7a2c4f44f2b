"""The layout of a release, planned from pinned formulas: pure, no I/O.

Each formula's exports (``<export>/`` from its tree, or the whole tree) and its
``_<type>`` module directories, the release id (a digest of what is pinned and how
it is laid out) and the record ``releases/<id>.json`` keeps. :mod:`shaker_core.vendor`
builds and switches releases on disk.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import LayoutError
from .release_file import NO_CONTEXT, Context, reserved_by

LAYOUT_VERSION = "2"  # 2: every release holds _shaker/release.json


@dataclass(frozen=True, kw_only=True, slots=True)
class FormulaTree:
    """What the plan needs to know about one pinned formula's tree."""

    name: str
    ref: str
    commit: str
    source: str
    exports: tuple[str, ...]
    exports_declared: bool
    top_dirs: frozenset[str]
    top_files: frozenset[str]


@dataclass(frozen=True, kw_only=True, slots=True)
class FormulaLayout:
    """Where one formula's content goes in a release."""

    name: str
    ref: str
    commit: str
    source: str
    exports: tuple[tuple[str, str], ...]  # (export name, directory in the tree; "" is the whole tree)
    module_dirs: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class LayoutPlan:
    """A release: its id and each formula's place in it."""

    release_id: str
    formulas: tuple[FormulaLayout, ...]
    warnings: tuple[str, ...] = ()
    context: Context = NO_CONTEXT

    @property
    def module_dirs(self) -> frozenset[str]:
        """Every ``_<type>`` directory the release publishes."""
        return frozenset(d for f in self.formulas for d in f.module_dirs)


@dataclass(kw_only=True, slots=True)
class ReleaseInfo:
    """What ``releases/<id>.json`` records."""

    release: str
    created: float
    formulas: dict[str, dict[str, Any]] = field(default_factory=dict)
    module_dirs: list[str] = field(default_factory=list)
    lock_text: str = ""
    description: dict[str, Any] = field(default_factory=dict)  # what _shaker/release.json says (empty: built before it existed)


def plan_release(trees: Sequence[FormulaTree], context: Context = NO_CONTEXT) -> LayoutPlan:
    """Decide each formula's exports and module directories; refuse two exports with one name, and any ``_shaker/``."""
    owners: dict[str, str] = {}
    layouts: list[FormulaLayout] = []
    warnings: list[str] = []
    for tree in sorted(trees, key=lambda t: t.name):
        exports = _exports_of(tree, warnings)
        for export, _ in exports:
            if export in owners:
                raise LayoutError(f"{owners[export]} and {tree.name} both export '{export}'; rename one export in its metadata.yml 'exports:'.")
            owners[export] = tree.name
        module_dirs = tuple(sorted(d for d in tree.top_dirs if d.startswith("_")))
        collision = reserved_by(tree.name, tree.ref, module_dirs)
        if collision:
            raise LayoutError(collision)
        layouts.append(FormulaLayout(name=tree.name, ref=tree.ref, commit=tree.commit, source=tree.source, exports=exports, module_dirs=module_dirs))
    return LayoutPlan(release_id=release_id(layouts, context), formulas=tuple(layouts), warnings=tuple(warnings), context=context)


def _exports_of(tree: FormulaTree, warnings: list[str]) -> tuple[tuple[str, str], ...]:
    found = []
    for export in tree.exports:
        if export in tree.top_dirs:
            found.append((export, export))
        elif "init.sls" in tree.top_files and len(tree.exports) == 1:
            found.append((export, ""))
        elif tree.exports_declared:
            raise LayoutError(
                f"{tree.name} {tree.ref} exports '{export}' but has no '{export}/' directory and no init.sls at its top; fix 'exports:' in its metadata.yml."
            )
        else:
            warnings.append(f"{tree.name} {tree.ref} has no '{export}/' directory, so it publishes no states (only its _* module directories).")
    return tuple(found)


def release_id(formulas: Sequence[FormulaLayout], context: Context = NO_CONTEXT) -> str:
    """A digest of what the release pins, how it is laid out and what it is for: equal pins for one purpose give equal ids."""
    lines = [f"layout {LAYOUT_VERSION}", *context.id_lines()]
    for formula in sorted(formulas, key=lambda f: f.name):
        exports = ",".join(f"{name}={path}" for name, path in formula.exports)
        lines.append(f"{formula.name} {formula.ref} {formula.commit} {formula.source} {exports} {','.join(formula.module_dirs)}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def formula_records(plan: LayoutPlan) -> dict[str, dict[str, Any]]:
    return {
        f.name: {"ref": f.ref, "commit": f.commit, "source": f.source, "exports": [e for e, _ in f.exports], "module_dirs": list(f.module_dirs)}
        for f in plan.formulas
    }


def records_by_name(info: ReleaseInfo | None) -> Mapping[str, Mapping[str, Any]]:
    """A release's formulas, or an empty mapping."""
    return info.formulas if info else {}
