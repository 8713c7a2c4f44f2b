"""Resource bounds: each configured limit refuses with a sentence naming the limit and its setting, and changes nothing.

A project is published once (app and lib v1.0.0); upstream then gets app v1.1.0,
whose metadata.yml is padded to 2,000 bytes and whose tree holds a 3,000-byte file.
Each case copies the published project, sets one limit in shaker.yml and runs
``salt-shaker install``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hardkit import APP, LIB, assert_unchanged, build_small_forge, copy_project, disk_state, make_project, one_line_error
from helpers.forge import Forge
from helpers.run import shaker

PADDED_METADATA = 2000
LONG_PROJECT = "dependencies:\n  - org/app-formula   # the only formula this project needs, at its newest tag\n"


@pytest.fixture(scope="module")
def limits_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Forge, Path, str, int]:
    base = tmp_path_factory.mktemp("limits")
    forge = build_small_forge(base / "forge")
    project = make_project(base / "published", forge.template, cache_dir=base / "cache")
    assert shaker("install", cwd=project).code == 0
    app = forge[APP]
    text = yaml.safe_dump({"formula": APP, "dependencies": [f"{LIB}>=v1.0.0"]})
    app.commit({"metadata.yml": text + "#" * (PADDED_METADATA - len(text) - 1) + "\n", "app/files/big.txt": "x" * 3000})
    commit = app.tag("v1.1.0")
    _backtracking_graph(forge)
    tree_bytes = sum(int(line.split()[3]) for line in app.git("ls-tree", "-r", "-l", commit).splitlines())
    return forge, project, commit, tree_bytes


def _backtracking_graph(forge: Forge) -> None:
    """picky vN needs lib>=vN; strict (pinned after picky) needs lib<v2.0.0: the resolver must go back twice."""
    for version in ("v2.0.0", "v3.0.0"):
        forge[LIB].commit({"lib/init.sls": f"lib: {version}\n"})
        forge[LIB].tag(version)
    picky = forge.formula(PICKY, {"picky/init.sls": "picky: 1\n"}, dependencies=[f"{LIB}>=v1.0.0"], tag="v1.0.0")
    for version in ("v2.0.0", "v3.0.0"):
        picky.commit(dependencies=[f"{LIB}>={version}"])
        picky.tag(version)
    forge.formula("org/strict-formula", {"strict/init.sls": "strict: 1\n"}, dependencies=[f"{LIB}<v2.0.0"], tag="v1.0.0")


PICKY = "org/picky-formula"
CASES = {
    "max_formula_bytes": (
        {"max_formula_bytes": 1000}, None, 4,
        "org/app-formula v1.1.0 is larger than 1000 bytes (the limit is passed at 'app/files/big.txt', a file of 3000 bytes); "
        "raise the 'max_formula_bytes' setting if that is intended.",
    ),
    "max_manifest_bytes (the project's metadata.yml)": (
        {"max_manifest_bytes": 64}, LONG_PROJECT, 3,
        f"metadata.yml is {len(LONG_PROJECT)} bytes, over the limit of 64; shorten it or raise the 'max_manifest_bytes' setting.",
    ),
    "max_manifest_bytes (a dependency's metadata.yml)": (
        {"max_manifest_bytes": 1024}, None, 3,
        f"org/app-formula v1.1.0: metadata.yml at <C12> is {PADDED_METADATA} bytes, over the limit of 1024; "
        "shorten it or raise the 'max_manifest_bytes' setting.",
    ),
    "max_formulas (through a dependency)": (
        {"max_formulas": 1}, None, 4,
        "The dependency graph names more than 1 formulas; raise the 'max_formulas' setting if that is intended.",
    ),
    "max_formulas (in the project, before any fetch)": (
        {"max_formulas": 2}, "dependencies: [org/a-formula, org/b-formula, org/c-formula]\n", 4,
        "The dependency graph names more than 2 formulas; raise the 'max_formulas' setting if that is intended.",
    ),
    "max_resolution_rounds": (
        {"max_resolution_rounds": 1}, f"dependencies: [{PICKY}, org/strict-formula]\n", 4,
        "Resolving took more than 1 rounds beyond one per formula; add tighter constraints or raise the 'max_resolution_rounds' setting.",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_limit_is_refused_by_name_and_changes_nothing(limits_env: tuple[Forge, Path, str, int], tmp_path: Path, case: str) -> None:
    forge, published, commit, tree_bytes = limits_env
    limit, metadata, code, message = CASES[case]
    project = copy_project(published, tmp_path / "project")
    cache = shutil.copytree(published.parent / "cache", tmp_path / "cache")
    config = yaml.safe_load((project / "shaker.yml").read_text())
    (project / "shaker.yml").write_text(yaml.safe_dump({**config, "cache_dir": str(cache), **limit}))
    if metadata is not None:
        (project / "metadata.yml").write_text(metadata)
    before, mirrors = disk_state(project), sorted(p.name for p in cache.iterdir())

    result = shaker("install", cwd=project)

    assert result.code == code, str(result)
    assert one_line_error(result) == message.replace("<C12>", commit[:12])
    assert_unchanged(before, disk_state(project), case)
    if "before any fetch" in case:
        assert sorted(p.name for p in cache.iterdir()) == mirrors  # not one of the three was fetched
    if case == "max_formula_bytes":
        assert tree_bytes > 3000 and not [p for p in (project / "vendor" / "store").iterdir() if p.name.startswith(".tmp-")]

    (project / "shaker.yml").write_text(yaml.safe_dump({**config, "cache_dir": str(cache)}))  # without the limit it works
    if metadata is None:
        assert shaker("install", cwd=project).code == 0
        assert (project / "vendor" / "_root" / "app" / "files" / "big.txt").stat().st_size == 3000
