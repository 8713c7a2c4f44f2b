"""``--offline`` never touches the network: the forge is renamed away, and the cache is all there is."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from formulakit import TIMEZONE, A, B, C, World, make_project, served
from helpers.run import shaker

DIAMOND = {"dependencies": [f"{A}>=v1.0.0", B]}


def setup(world: World, tmp_path: Path) -> tuple[Path, Path]:
    """A project installed normally, its mirrors in a cache shared with other projects."""
    cache = tmp_path / "cache"
    project = make_project(tmp_path / "project", world.template, DIAMOND, cache_dir=str(cache))
    result = shaker("install", cwd=project)
    assert result.code == 0, result
    return project, cache


def forge_away(world: World) -> Path:
    away = world.forge.root.with_name("forge-away")
    os.rename(world.forge.root, away)
    return away


def test_pinned_install_offline_from_the_cache(world_copy: World, tmp_path: Path):
    project, _ = setup(world_copy, tmp_path)
    other = tmp_path / "other"  # a second project (say, a second master) sharing the cache, with only the lock
    other.mkdir()
    shutil.copy(project / "formula-requirements.txt", other)
    (other / "shaker.yml").write_text((project / "shaker.yml").read_text())
    forge_away(world_copy)

    online = shaker("install", cwd=project)
    assert online.code == 5 and "there is no repository at" in online.err, online  # the forge really is gone

    result = shaker("install-pinned-versions", "--offline", "--json", cwd=other)
    assert result.code == 0, result
    report = result.json()
    assert report["published"] is True
    assert report["release"] == os.path.basename(os.readlink(project / "vendor" / "_root"))
    assert served(other / "vendor" / "_root") == ["a", "b", "c"]
    assert (other / "vendor" / "_root" / "c" / "init.sls").read_text() == (project / "vendor" / "_root" / "c" / "init.sls").read_text()

    for args, out in (
        (("install", "--offline"), f"Nothing to do: vendor/_root already serves release {report['release']} (3 formulas).\n"),
        (("outdated", "--offline"), "All 3 locked formulas are at their newest tags.\n"),
        (("why", C, "--offline"), f"project -> {A}>=v1.0.0 (v1.0.0) -> {C}>=v1.0.0 (v1.5.0)\nproject -> {B} (v1.0.0) -> {C}<v2.0.0 (v1.5.0)\n"),
    ):
        result = shaker(*args, cwd=project)
        assert (result.code, result.out) == (0, out), result


def test_offline_install_of_a_formula_missing_from_the_cache(world_copy: World, tmp_path: Path):
    project, _ = setup(world_copy, tmp_path)
    lock_before = (project / "formula-requirements.txt").read_text()
    release_before = os.readlink(project / "vendor" / "_root")
    (project / "metadata.yml").write_text(f"dependencies: ['{A}>=v1.0.0', '{B}', '{TIMEZONE}']\n")
    forge_away(world_copy)

    result = shaker("install", "--offline", cwd=project)
    assert result.code == 5, result
    url = f"file://{world_copy.forge.root}/saltstack-formulas/timezone-formula.git"
    assert result.err == f"salt-shaker: {TIMEZONE} ({url}) is not in the cache and --offline forbids fetching it; run once without --offline.\n"
    assert (project / "formula-requirements.txt").read_text() == lock_before
    assert os.readlink(project / "vendor" / "_root") == release_before


def test_offline_lock_naming_a_commit_the_cache_lacks(world_copy: World, tmp_path: Path):
    project, _ = setup(world_copy, tmp_path)
    c = world_copy.forge[C]
    c.commit({"c/init.sls": "c_marker:\n  test.nop: []\n"})
    new_commit = c.tag("v1.6.0")  # upstream has it; this project's cache never fetched it
    lock = project / "formula-requirements.txt"
    old_line = next(line for line in lock.read_text().splitlines() if line.startswith(f"{C}=="))
    lock.write_text(lock.read_text().replace(old_line, f"{C}==v1.6.0 {new_commit}"))
    lock_before = lock.read_text()
    release_before = os.readlink(project / "vendor" / "_root")
    forge_away(world_copy)

    result = shaker("install-pinned-versions", "--offline", cwd=project)
    assert result.code == 5, result
    url = f"file://{world_copy.forge.root}/diamond/c-formula.git"
    assert result.err == (
        f"salt-shaker: {C} ({url}): commit {new_commit} is not in the cache, and --offline forbids fetching it; run once without --offline.\n"
    )
    assert lock.read_text() == lock_before
    assert os.readlink(project / "vendor" / "_root") == release_before
