"""salt-formulas (tcpcloud) metadata.yml, through the real command line.

salt-formulas/salt-formula-linux says ``name: linux`` (its states are in ``linux/``,
not the ``salt-formula-linux`` its repository name would give), a quoted ``version``,
its own ``source`` and ``dependencies: [{name: salt, source: <url>}]``. The dependency's
source lives in a second forge ("github") that ``source_template`` does not reach, so
it can only resolve by its URL.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from formulakit import LINUX, LINUX_FILES, SALT, SALT_FILES, World, make_project, read_lock, served
from helpers.run import shaker


def published_files(root: Path) -> set[str]:
    return {str(Path(d, f).relative_to(root)) for d, _, files in os.walk(root) for f in files}


def test_tcpcloud_formula_and_its_source_dependency(world: World, tmp_path: Path):
    project = make_project(tmp_path / "project", world.template, {"dependencies": [LINUX]})
    result = shaker("install", "--json", cwd=project)
    assert result.code == 0, result
    report = result.json()
    assert report["warnings"] == []  # version "2017.4" agrees with the tags 2017.4

    salt_url = world.salt_source  # file://<github>/salt-formulas/salt-formula-salt, no .git, as tcpcloud write it
    assert not salt_url.startswith(world.template.split("{org}")[0])
    lock = read_lock(project / "formula-requirements.txt")
    assert lock == {
        LINUX: ("2017.4", world.forge[LINUX].head()),
        SALT: ("2017.4", world.github[SALT].head(), salt_url),  # pinned by its source URL, recorded in the lock
    }

    root = project / "vendor" / "_root"
    assert served(root) == ["_grains", "_modules", "linux", "salt"]
    files = published_files(root)
    assert files == {f for f in {**LINUX_FILES, **SALT_FILES} if f.split("/")[0] in ("linux", "salt", "_modules", "_grains")} | {"_shaker/release.json"}
    assert (root / "linux" / "system" / "init.sls").read_text() == LINUX_FILES["linux/system/init.sls"]
    assert (root / "salt" / "minion" / "init.sls").read_text() == SALT_FILES["salt/minion/init.sls"]

    why = shaker("why", SALT, cwd=project)
    assert why.code == 0, why
    assert why.out.splitlines() == [f"project -> {LINUX} (2017.4) -> {SALT} (2017.4)"]


def test_lock_alone_installs_from_the_recorded_source(world: World, tmp_path: Path):
    """install-pinned-versions needs no metadata.yml: the lock's third field says where salt-formula-salt lives."""
    first = make_project(tmp_path / "first", world.template, {"dependencies": [LINUX]})
    assert shaker("install", cwd=first).code == 0
    second = tmp_path / "second"
    second.mkdir()
    shutil.copy(first / "formula-requirements.txt", second)
    shutil.copy(first / "shaker.yml", second)
    result = shaker("install-pinned-versions", "--json", cwd=second)
    assert result.code == 0, result
    assert result.json()["release"] == os.path.basename(os.readlink(first / "vendor" / "_root"))
    assert published_files(second / "vendor" / "_root") == published_files(first / "vendor" / "_root")
