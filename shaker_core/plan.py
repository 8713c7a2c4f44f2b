"""The publish plan: what a command changes in the lock and in what the master serves, as one value.

``plan_publish`` is pure: it takes the locks, the record of the release being
served and the layout of the release to serve, and says what moves. Every
publishing command builds it; ``--simulate``, ``check``, ``test=True`` and a
real run differ only in whether :mod:`shaker_core.publishing` applies it. The
report every face returns is rendered from it by :func:`report_of`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from .layout import LayoutPlan, ReleaseInfo
from .lockfile import LockEntry, LockFile
from .reports import ChangeData, ChangeKind, PinData, PublishReport
from .verify import TreeDiff


@dataclass(frozen=True, kw_only=True, slots=True)
class Pin:
    """A formula at a ref and the commit it named."""

    ref: str
    commit: str | None

    def as_dict(self) -> PinData:
        return {"ref": self.ref, "commit": self.commit}

    def __str__(self) -> str:
        return f"{self.ref} ({self.commit[:12]})" if self.commit and self.commit != self.ref else self.ref


@dataclass(frozen=True, kw_only=True, slots=True)
class FormulaChange:
    """One formula whose pin differs between two states (the lock before and after, or what is served and what will be)."""

    name: str
    kind: ChangeKind
    old: Pin | None
    new: Pin | None

    def line(self) -> str:
        """``acme/postgres-formula: v1.2.0 (c9d5…) -> v1.1.0 (de96…)``."""
        return f"{self.name}: {self.old or '(none)'} -> {self.new or '(none)'}"

    def as_dict(self) -> ChangeData:
        return {"kind": self.kind, "old": self.old.as_dict() if self.old else None, "new": self.new.as_dict() if self.new else None}


@dataclass(frozen=True, kw_only=True, slots=True)
class PublishPlan:
    """Everything a publishing command decided before touching the disk."""

    command: str
    lock_before: LockFile
    lock_after: LockFile
    lock_changed: bool
    served_release: str | None  # what _root points at now
    release_id: str | None  # what it will point at (the served one when nothing is to build)
    layout: LayoutPlan | None  # None: the served release already is the plan (nothing to build)
    lock_changes: tuple[FormulaChange, ...]
    served_changes: tuple[FormulaChange, ...]
    module_dirs_changed: bool
    repaired: TreeDiff | None  # the served tree differs from git and is rebuilt
    warnings: tuple[str, ...]

    @property
    def formulas(self) -> dict[str, Pin]:
        return {entry.name: _pin(entry) for entry in self.lock_after.entries}


def plan_publish(
    *,
    command: str,
    lock_before: LockFile,
    lock_after: LockFile,
    lock_changed: bool,
    served: ReleaseInfo | None,
    layout: LayoutPlan | None,
    repaired: TreeDiff | None = None,
    warnings: tuple[str, ...] = (),
) -> PublishPlan:
    """The plan of a publish, from data alone: no git, no disk."""
    served_pins = {name: Pin(ref=record.get("ref", ""), commit=record.get("commit")) for name, record in (served.formulas if served else {}).items()}
    release = layout.release_id if layout else (served.release if served else None)
    return PublishPlan(
        command=command,
        lock_before=lock_before,
        lock_after=lock_after,
        lock_changed=lock_changed,
        served_release=served.release if served else None,
        release_id=release,
        layout=layout,
        lock_changes=changes_between({e.name: _pin(e) for e in lock_before.entries}, {e.name: _pin(e) for e in lock_after.entries}),
        served_changes=changes_between(served_pins, {e.name: _pin(e) for e in lock_after.entries}),
        module_dirs_changed=_module_dirs_changed(served, layout) or _touches_modules(repaired),
        repaired=repaired or None,
        warnings=tuple(dict.fromkeys((*warnings, *(layout.warnings if layout else ())))),  # each warning once, in order
    )


def with_repair(plan: PublishPlan, repaired: TreeDiff | None) -> PublishPlan:
    """The plan as applied, when building found (and rebuilt) a damaged release the plan had not seen."""
    if not repaired or repaired == plan.repaired:
        return plan
    return replace(plan, repaired=repaired, module_dirs_changed=plan.module_dirs_changed or _touches_modules(repaired))


def changes_between(before: Mapping[str, Pin], after: Mapping[str, Pin]) -> tuple[FormulaChange, ...]:
    """Every formula added, removed or moved from ``before`` to ``after``, by name."""
    found = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old != new:
            kind: ChangeKind = "added" if old is None else "removed" if new is None else "moved"
            found.append(FormulaChange(name=name, kind=kind, old=old, new=new))
    return tuple(found)


def report_of(plan: PublishPlan, *, simulate: bool, root_dir: str, saltenv: str | None,
              published: bool = False, release: str | None = None) -> PublishReport:
    """The plain report every face returns (Salt needs plain data)."""
    return {
        "command": plan.command,
        "success": True,
        "simulate": simulate,
        "root_dir": root_dir,
        "saltenv": saltenv,
        "changes": {change.name: change.as_dict() for change in plan.lock_changes},
        "served_changes": {change.name: change.as_dict() for change in plan.served_changes},
        "lock_changed": plan.lock_changed,
        "release": release or plan.release_id,
        "previous_release": plan.served_release,
        "published": published,
        "repaired": plan.repaired.as_dict() if plan.repaired else None,
        "module_dirs_changed": plan.module_dirs_changed,
        "formulas": {name: pin.as_dict() for name, pin in plan.formulas.items()},
        "signed_by": {entry.name: entry.signer for entry in plan.lock_after.entries if entry.signer},
        "warnings": list(plan.warnings),
    }


def _pin(entry: LockEntry) -> Pin:
    return Pin(ref=entry.ref, commit=entry.commit)


def _module_dirs_changed(served: ReleaseInfo | None, layout: LayoutPlan | None) -> bool:
    """Whether minions need a ``saltutil.sync_all``: a module directory appears or goes, or a formula with modules moves."""
    if layout is None:
        return False
    before = served.formulas if served else {}
    if set(served.module_dirs if served else ()) != set(layout.module_dirs):
        return True
    if any(f.module_dirs and before.get(f.name, {}).get("commit") != f.commit for f in layout.formulas):
        return True
    planned = {f.name for f in layout.formulas}
    return any(record.get("module_dirs") and name not in planned for name, record in before.items())


def _touches_modules(repaired: TreeDiff | None) -> bool:
    return bool(repaired) and any(path.startswith("_") for path in (*repaired.edited, *repaired.added, *repaired.deleted))  # type: ignore[union-attr]
