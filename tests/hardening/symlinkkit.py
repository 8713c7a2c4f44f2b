"""Random formula trees of directories, files and symlinks, and a realpath oracle for what a release serves.

Two formulas: ``org/a-formula`` publishes its ``a/`` directory and its
``_modules/``; ``org/b-formula`` publishes ``b/``. Their trees are written
straight to disk by the exporter below, so the git layer's own lexical checks
never run: what is tested is the layout's decision on resolved paths alone.
"""
from __future__ import annotations

import os
from pathlib import Path

from hypothesis import strategies as st

from shaker_core.errors import LayoutError
from shaker_core.layout import FormulaLayout, LayoutPlan, release_id
from shaker_core.vendor import Vendor

A = FormulaLayout(name="org/a-formula", ref="v1.0.0", commit="a" * 40, source="file:///forge/org/a-formula.git", exports=(("a", "a"),), module_dirs=("_modules",))
B = FormulaLayout(name="org/b-formula", ref="v2.0.0", commit="b" * 40, source="file:///forge/org/b-formula.git", exports=(("b", "b"),), module_dirs=())
OWNER_OF_TOP = {"a": A.name, "_modules": A.name, "b": B.name}

NAMES = ["a", "b", "_modules", "x", "y", "lib", "secrets"]
TARGETS = ["..", ".", "x", "y", "lib", "a", "b", "_modules", "init.sls", "missing"]
ABSOLUTE = ["/etc/passwd", "/etc", "/", "/dev/zero", "/proc/self/environ"]


def relative_target() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(TARGETS), min_size=1, max_size=8).map("/".join)


entry_paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=4).map("/".join)
entries = st.lists(
    st.one_of(
        st.tuples(st.just("dir"), entry_paths, st.just("")),
        st.tuples(st.just("file"), entry_paths, st.just("")),
        st.tuples(st.just("link"), entry_paths, st.one_of(relative_target(), st.sampled_from(ABSOLUTE))),
    ),
    min_size=1,
    max_size=14,
)
trees = st.fixed_dictionaries({A.commit: entries, B.commit: entries})


def materialise(entries_: list[tuple[str, str, str]], dest: Path) -> None:
    """Write entries in order; one whose place is taken, or that would go through a file or a link, is dropped."""
    dest.mkdir(parents=True)
    for kind, rel, target in entries_:
        path = dest / rel
        ancestors = [dest / "/".join(rel.split("/")[:depth]) for depth in range(1, rel.count("/") + 1)]
        if path.exists() or path.is_symlink() or any(p.is_symlink() or p.is_file() for p in ancestors):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "dir":
            path.mkdir()
        elif kind == "file":
            path.write_text(f"{rel}\n")
        else:
            os.symlink(target, path)


def build(root: Path, generated: dict[str, list[tuple[str, str, str]]]) -> tuple[Vendor, LayoutPlan, Path | None]:
    """Build the release of A and B from the generated trees; None for the release when it was refused."""
    plan = LayoutPlan(release_id=release_id([A, B]), formulas=(A, B))
    vendor = Vendor(root)
    try:
        return vendor, plan, vendor.build(plan, lambda source, commit, dest: materialise(generated[commit], dest), "").path
    except LayoutError:
        return vendor, plan, None


def violations(release: Path, store: Path) -> list[str]:
    """What the oracle finds wrong: a path that resolves outside the release, or into another formula's part."""
    found: list[str] = []
    top = os.path.realpath(release)
    for directory, dirnames, filenames in os.walk(release):
        for name in (*dirnames, *filenames):
            path = Path(directory) / name
            real = os.path.realpath(path)
            rel = os.path.relpath(path, release)
            if real == top or not real.startswith(top + os.sep):
                found.append(f"{rel} -> {real} (outside the release)")
                continue
            mine = OWNER_OF_TOP.get(rel.split(os.sep)[0])
            theirs = OWNER_OF_TOP.get(os.path.relpath(real, top).split(os.sep)[0])
            if mine != theirs:
                found.append(f"{rel} -> {real} ({mine} reaching into {theirs})")
    for entry in store.iterdir():
        tree = os.path.realpath(entry)
        for directory, dirnames, filenames in os.walk(entry):
            for name in (*dirnames, *filenames):
                real = os.path.realpath(Path(directory) / name)
                if real != tree and not real.startswith(tree + os.sep):
                    found.append(f"store {entry.name[:7]}/{os.path.relpath(Path(directory) / name, entry)} -> {real}")
    return found


def check(root: Path, generated: dict[str, list[tuple[str, str, str]]]) -> bool:
    """Build; if published, assert the oracle finds nothing; if refused, assert nothing was published. True if published."""
    vendor, plan, release = build(root, generated)
    if release is None:
        assert not (vendor.releases / plan.release_id).exists()
        assert not [p for p in vendor.path.glob(".staging-*")]
        return False
    assert violations(release, vendor.store) == [], generated
    return True
