"""SPM ``FORMULA`` files as saltstack-formulas ship them, through the real command line.

saltstack-formulas/template-formula has no metadata.yml: its FORMULA says
``top_level_dir: TEMPLATE`` (so the export is ``TEMPLATE/``, not the ``template`` the
repository name would give), ``dependencies: sysctl, locale`` (unconstrained
dependencies on saltstack-formulas/sysctl-formula and saltstack-formulas/locale-formula)
and ``minimum_version``. locale-formula has both: a metadata.yml without ``exports``
(naming timezone-formula) and a FORMULA (naming sysctl); both lists count.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from formulakit import FUTURE, LOCALE, SYSCTL, TEMPLATE, TEMPLATE_FILES, TIMEZONE, World, make_project, read_lock, served
from helpers.run import shaker, tree_snapshot

SYSCTL_VERSION_WARNING = f"{SYSCTL}: tag v0.2.0 declares version 0.1.0 in its FORMULA or metadata.yml."
LOCALE_TOO_NEW = f"{LOCALE} v1.1.0 needs Salt 3007.1 or newer (FORMULA minimum_version), and this is Salt 3006.0"


def install(project: Path, *args: str):
    return shaker("install", "--json", *args, cwd=project)


def test_formula_file_gives_export_and_dependencies(world: World, tmp_path: Path):
    project = make_project(tmp_path / "project", world.template, {"dependencies": [TEMPLATE]})
    result = install(project)
    assert result.code == 0, result
    report = result.json()

    lock = read_lock(project / "formula-requirements.txt")
    assert {name: pin[0] for name, pin in lock.items()} == {
        TEMPLATE: "v5.0.0",
        SYSCTL: "v0.2.0",  # from template's FORMULA dependencies, the newest tag: unconstrained
        LOCALE: "v1.1.0",  # from template's FORMULA dependencies
        TIMEZONE: "v1.0.0",  # from locale's metadata.yml, next to its FORMULA
    }
    assert all(len(pin) == 2 for pin in lock.values()), "every dependency is <same org>/<name>-formula at the default source"
    for name, (ref, commit) in lock.items():
        assert commit == world.forge[name].git("rev-parse", f"{ref}^{{commit}}")

    root = project / "vendor" / "_root"
    assert served(root) == ["TEMPLATE", "locale", "sysctl", "timezone"]
    published = {str(Path(d, f).relative_to(root)) for d, _, files in os.walk(root) for f in files}
    assert {f for f in published if f.startswith("TEMPLATE/")} == {f for f in TEMPLATE_FILES if f.startswith("TEMPLATE/")}
    assert (root / "TEMPLATE" / "map.jinja").read_text() == TEMPLATE_FILES["TEMPLATE/map.jinja"]
    assert "sysctl/param.sls" in published and "locale/init.sls" in published
    # the formula's other top-level content (FORMULA, docs, tests, CI, pillar.example) is not served
    assert not any(f.split("/")[0] in ("FORMULA", "docs", "test", ".github", "pillar.example", "template") for f in published)

    # the running Salt (read from the installed salt package) is newer than every minimum_version: the only
    # warning is sysctl's FORMULA still saying 0.1.0 at tag v0.2.0
    assert report["warnings"] == [SYSCTL_VERSION_WARNING]
    assert f"warning: {SYSCTL_VERSION_WARNING}" in shaker("install", cwd=project).out

    graph = shaker("graph", cwd=project)
    assert graph.code == 0, graph
    assert graph.out.splitlines() == [
        "project",
        f"  {TEMPLATE} v5.0.0 (any)",
        f"    {LOCALE} v1.1.0 (any)",
        f"      {SYSCTL} v0.2.0 (any)",
        f"      {TIMEZONE} v1.0.0 (>=v1.0.0)",
        f"    {SYSCTL} v0.2.0 (any) (see above)",
    ]


def test_version_warning_only_when_the_tag_disagrees(world: World, tmp_path: Path):
    project = make_project(tmp_path / "project", world.template, {"dependencies": [f"{SYSCTL}==v0.1.0"]})
    result = install(project)
    assert result.code == 0, result
    assert result.json()["warnings"] == []
    assert read_lock(project / "formula-requirements.txt")[SYSCTL][0] == "v0.1.0"

    (project / "metadata.yml").write_text(f"dependencies: ['{SYSCTL}==v0.2.0']\n")
    result = install(project)
    assert result.code == 0, result
    assert result.json()["warnings"] == [SYSCTL_VERSION_WARNING]


def test_minimum_version_newer_than_salt_is_a_warning(world: World, tmp_path: Path):
    project = make_project(tmp_path / "project", world.template, {"dependencies": [TEMPLATE]})
    with open(project / "shaker.yml", "a") as config:
        config.write("salt_version: 3006.0\n")  # unquoted, as people write it: YAML reads a number
    result = install(project)
    assert result.code == 0, result
    assert result.json()["warnings"] == [f"{LOCALE_TOO_NEW}; set strict_minimum_version to refuse it.", SYSCTL_VERSION_WARNING]
    assert os.path.islink(project / "vendor" / "_root") and "locale" in served(project / "vendor" / "_root")

    # an older Salt through the environment variable; minimum_version 2017.7 (template) and 2016.11 (sysctl) still pass
    result = shaker("install", "--json", cwd=project, env={"SHAKER_SALT_VERSION": "2017.7.8"})
    assert result.code == 0, result
    assert result.json()["warnings"] == [
        f"{LOCALE} v1.1.0 needs Salt 3007.1 or newer (FORMULA minimum_version), and this is Salt 2017.7.8; set strict_minimum_version to refuse it.",
        SYSCTL_VERSION_WARNING,
    ]


def _state(project: Path) -> dict:
    """What a failed run must not change: the lock, what _root serves, the releases and the store."""
    vendor = project / "vendor"
    return {
        "lock": (project / "formula-requirements.txt").read_text() if (project / "formula-requirements.txt").exists() else None,
        "root": os.readlink(vendor / "_root") if os.path.islink(vendor / "_root") else None,
        "releases": sorted(os.listdir(vendor / "releases")) if (vendor / "releases").exists() else [],
        "store": sorted(os.listdir(vendor / "store")) if (vendor / "store").exists() else [],
        "served": tree_snapshot(vendor / "_root") if os.path.islink(vendor / "_root") else None,
    }


def test_strict_minimum_version_refuses_and_changes_nothing(world: World, tmp_path: Path):
    metadata = {"dependencies": [TEMPLATE], "overrides": [f"{LOCALE}==v1.0.0"]}
    project = make_project(tmp_path / "project", world.template, metadata, salt_version="3006.0", strict_minimum_version=True)
    result = install(project)
    assert result.code == 0, result  # locale v1.0.0 needs 2016.11
    assert read_lock(project / "formula-requirements.txt")[LOCALE][0] == "v1.0.0"
    before = _state(project)

    (project / "metadata.yml").write_text(f"dependencies: ['{TEMPLATE}']\n")  # the override goes: locale would move to v1.1.0
    result = shaker("install", cwd=project)
    assert result.code == 6, result
    assert result.err == f"salt-shaker: {LOCALE_TOO_NEW}; upgrade Salt or pin an older version of the formula.\n"
    assert result.out == ""
    assert _state(project) == before

    # the same on a fresh project: no lock, nothing published
    fresh = make_project(tmp_path / "fresh", world.template, {"dependencies": [TEMPLATE]}, salt_version="3006.0", strict_minimum_version=True)
    result = shaker("install", cwd=fresh)
    assert result.code == 6, result
    assert LOCALE in result.err and "3007.1" in result.err and "3006.0" in result.err
    assert _state(fresh) == {"lock": None, "root": None, "releases": [], "store": [], "served": None}


@pytest.mark.salt  # compares with the Salt installed beside salt-shaker
def test_strict_minimum_version_against_the_installed_salt(world: World, tmp_path: Path):
    """Without salt_version, the command line compares with the Salt installed beside it."""
    from importlib.metadata import version

    project = make_project(tmp_path / "project", world.template, {"dependencies": [FUTURE]}, strict_minimum_version=True)
    result = shaker("install", cwd=project)
    assert result.code == 6, result
    assert result.err == (
        f"salt-shaker: {FUTURE} v1.0.0 needs Salt 3999.1 or newer (FORMULA minimum_version), and this is Salt {version('salt')}; "
        "upgrade Salt or pin an older version of the formula.\n"
    )
    assert not (project / "formula-requirements.txt").exists()
