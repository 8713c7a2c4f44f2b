"""The publish plan is a value built from data alone: no git, no disk.

Generated served states and locks are planned, and the plan's served changes are
checked against a plain-dict oracle: every formula whose pin differs between what is
served and what the new lock pins appears once, with the right kind and pins.
"""
from __future__ import annotations

import hashlib
import random

import pytest

from shaker_core.layout import FormulaLayout, LayoutPlan, ReleaseInfo, release_id
from shaker_core.lockfile import LockEntry, LockFile
from shaker_core.plan import Pin, plan_publish, report_of, with_repair
from shaker_core.verify import TreeDiff

NAMES = [f"org/f{i}-formula" for i in range(8)]


def commit(name: str, ref: str) -> str:
    return hashlib.sha1(f"{name} {ref}".encode()).hexdigest()


def lock(pins: dict[str, str]) -> LockFile:
    return LockFile(entries=tuple(LockEntry(name=name, ref=ref, commit=commit(name, ref)) for name, ref in sorted(pins.items())))


def layout_of(pins: dict[str, str], modules: set[str] = frozenset()) -> LayoutPlan:
    formulas = tuple(
        FormulaLayout(name=name, ref=ref, commit=commit(name, ref), source=f"file:///forge/{name}.git", exports=((name.split("/")[1][:-8], name.split("/")[1][:-8]),),
                      module_dirs=("_modules",) if name in modules else ())
        for name, ref in sorted(pins.items())
    )
    return LayoutPlan(release_id=release_id(formulas), formulas=formulas)


def served_as(pins: dict[str, str], modules: set[str] = frozenset()) -> ReleaseInfo:
    layout = layout_of(pins, modules)
    records = {f.name: {"ref": f.ref, "commit": f.commit, "source": f.source, "exports": [e for e, _ in f.exports], "module_dirs": list(f.module_dirs)}
               for f in layout.formulas}
    return ReleaseInfo(release=layout.release_id, created=0.0, formulas=records, module_dirs=sorted(layout.module_dirs), lock_text="")


@pytest.mark.parametrize("seed", range(40))
def test_served_changes_are_exactly_the_pins_that_differ(seed: int) -> None:
    rng = random.Random(seed)
    served = {name: rng.choice(["v1.0.0", "v1.1.0", "v2.0.0"]) for name in rng.sample(NAMES, rng.randint(0, 6))}
    wanted = {name: rng.choice(["v1.0.0", "v1.1.0", "v2.0.0"]) for name in rng.sample(NAMES, rng.randint(1, 6))}
    info = served_as(served) if served else None

    plan = plan_publish(command="install_pinned", lock_before=lock(served), lock_after=lock(wanted), lock_changed=served != wanted,
                        served=info, layout=layout_of(wanted))

    expected = {name: (served.get(name), wanted.get(name)) for name in set(served) | set(wanted) if served.get(name) != wanted.get(name)}
    got = {c.name: (c.old.ref if c.old else None, c.new.ref if c.new else None) for c in plan.served_changes}
    assert got == expected
    for change in plan.served_changes:
        assert change.kind == ("added" if change.old is None else "removed" if change.new is None else "moved")
    assert plan.release_id == layout_of(wanted).release_id and plan.served_release == (info.release if info else None)


def test_a_pinned_install_below_what_is_served_shows_the_move_down() -> None:
    name = "acme/postgres-formula"
    plan = plan_publish(command="install_pinned", lock_before=lock({name: "v1.1.0"}), lock_after=lock({name: "v1.1.0"}), lock_changed=False,
                        served=served_as({name: "v1.2.0"}), layout=layout_of({name: "v1.1.0"}))
    (change,) = plan.served_changes
    assert change.line() == f"{name}: v1.2.0 ({commit(name, 'v1.2.0')[:12]}) -> v1.1.0 ({commit(name, 'v1.1.0')[:12]})"
    assert plan.lock_changes == ()  # the lock did not move; what is served did
    report = report_of(plan, simulate=True, root_dir="/srv/project", saltenv=None)
    assert report["served_changes"][name] == {"kind": "moved", "old": Pin(ref="v1.2.0", commit=commit(name, "v1.2.0")).as_dict(),
                                              "new": Pin(ref="v1.1.0", commit=commit(name, "v1.1.0")).as_dict()}
    assert report["changes"] == {} and report["published"] is False


def test_nothing_to_build_when_already_served() -> None:
    pins = {NAMES[0]: "v1.0.0"}
    plan = plan_publish(command="install_pinned", lock_before=lock(pins), lock_after=lock(pins), lock_changed=False, served=served_as(pins), layout=None)
    assert plan.layout is None and plan.served_changes == () and plan.release_id == served_as(pins).release and not plan.module_dirs_changed


@pytest.mark.parametrize(
    ("served_modules", "wanted", "wanted_modules", "changed"),
    [
        (set(), {NAMES[0]: "v1.0.0"}, {NAMES[0]}, True),  # a module directory appears
        ({NAMES[0]}, {NAMES[0]: "v1.1.0"}, {NAMES[0]}, True),  # a formula with modules moves
        ({NAMES[0]}, {NAMES[0]: "v1.0.0", NAMES[1]: "v1.0.0"}, {NAMES[0]}, False),  # a formula without modules joins
    ],
)
def test_module_dirs_change_when_minions_need_a_sync(served_modules: set, wanted: dict, wanted_modules: set, changed: bool) -> None:
    served = {NAMES[0]: "v1.0.0"}
    plan = plan_publish(command="install", lock_before=lock(served), lock_after=lock(wanted), lock_changed=True,
                        served=served_as(served, served_modules), layout=layout_of(wanted, wanted_modules))
    assert plan.module_dirs_changed is changed


def test_warnings_are_kept_once_in_order_and_a_repair_of_modules_needs_a_sync() -> None:
    pins = {NAMES[0]: "v1.0.0"}
    plan = plan_publish(command="install", lock_before=lock(pins), lock_after=lock(pins), lock_changed=False, served=served_as(pins),
                        layout=layout_of(pins), warnings=("b", "a", "b"))
    assert plan.warnings == ("b", "a") and not plan.module_dirs_changed
    repaired = with_repair(plan, TreeDiff(edited=("_modules/x.py",)))
    assert repaired.module_dirs_changed and report_of(repaired, simulate=False, root_dir="/p", saltenv=None)["repaired"]["edited"] == ["_modules/x.py"]
