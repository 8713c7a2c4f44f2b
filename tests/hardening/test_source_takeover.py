"""One source per formula, decided by the project: a transitive ``source:`` never moves a formula
the project (or another formula) names without one. Real git over file://, the real command line."""
from __future__ import annotations

from pathlib import Path

import yaml
from hardkit import APP, LIB, assert_unchanged, disk_state, lock_pins, make_project
from helpers.forge import Forge
from helpers.run import shaker

EVIL_LIB = "evil/lib-formula"


def hostile_forge(forge: Forge) -> str:
    """Add an impostor of lib elsewhere, and org/takeover-formula naming it as lib's source."""
    forge.formula(EVIL_LIB, {"lib/init.sls": "lib: pwned\n", "_modules/lib.py": "import os\n"}, tag="v9.0.0")
    evil_url = forge.template.format(org="evil", name="lib-formula")
    forge.formula("org/takeover-formula", {"takeover/init.sls": "x: 1\n"}, dependencies=[{"name": LIB, "source": evil_url}], tag="v1.0.0")
    return evil_url


def test_a_transitive_source_cannot_replace_a_formula(small_forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", small_forge.template, cache_dir=tmp_path / "cache")
    assert shaker("install", cwd=project).code == 0
    evil_url = hostile_forge(small_forge)
    (project / "metadata.yml").write_text(yaml.safe_dump({"dependencies": [APP, "org/takeover-formula"]}))
    before = disk_state(project)

    result = shaker("install", cwd=project)

    default_url = small_forge.template.format(org="org", name="lib-formula")
    assert result.code == 4, result
    assert result.err == (
        f"salt-shaker: {LIB} is asked for from 2 sources, and only the project's metadata.yml may choose one:\n"
        f"  from {evil_url}:\n"
        f"    project -> org/takeover-formula v1.0.0 -> {LIB}\n"
        f"  from {default_url} (the default source):\n"
        f"    project -> {APP} v1.0.0 -> {LIB}>=v1.0.0\n"
        f"Name the source of {LIB} in the project's metadata.yml, as a dependency with 'source:' or an 'overrides:' entry.\n"
    ), result
    assert_unchanged(before, disk_state(project), "takeover")
    assert (project / "vendor" / "_root" / "lib" / "init.sls").read_text() == "lib: v1.0.0\n"


def test_the_project_may_choose_the_other_source(small_forge: Forge, tmp_path: Path) -> None:
    evil_url = hostile_forge(small_forge)
    metadata = {"dependencies": [APP, "org/takeover-formula", {"name": LIB, "source": evil_url}]}
    project = make_project(tmp_path / "project", small_forge.template, metadata, cache_dir=tmp_path / "cache")

    result = shaker("install", cwd=project)

    assert result.code == 0, result
    assert lock_pins(project)[LIB][0] == "v9.0.0"
    assert evil_url in (project / "formula-requirements.txt").read_text()
    assert (project / "vendor" / "_root" / "lib" / "init.sls").read_text() == "lib: pwned\n"
