"""``outdated``, ``why`` and ``graph`` on a small diamond, through the real command line and Salt's runner.

    project -> diamond/a-formula>=v1.0.0 -> diamond/c-formula>=v1.0.0
    project -> diamond/b-formula         -> diamond/c-formula<v2.0.0
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from formulakit import A, B, C, World, make_project, parse_dot, read_lock
from helpers.run import shaker

from shaker_core import api
from shaker_core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DIAMOND = {"dependencies": [f"{A}>=v1.0.0", B]}


@pytest.fixture(scope="module")
def diamond(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("diamond") / "project", world.template, DIAMOND)
    result = shaker("install", cwd=project)
    assert result.code == 0, result
    return project


def test_why_lists_every_chain(diamond: Path):
    result = shaker("why", C, cwd=diamond)
    assert result.code == 0, result
    assert result.out.splitlines() == [
        f"project -> {A}>=v1.0.0 (v1.0.0) -> {C}>=v1.0.0 (v1.5.0)",
        f"project -> {B} (v1.0.0) -> {C}<v2.0.0 (v1.5.0)",
    ]
    report = shaker("why", C, "--json", cwd=diamond).json()
    assert report["formula"] == C and report["locked"] == "v1.5.0"
    assert report["chains"] == [
        [{"formula": A, "constraint": ">=v1.0.0", "locked": "v1.0.0"}, {"formula": C, "constraint": ">=v1.0.0", "locked": "v1.5.0"}],
        [{"formula": B, "constraint": "any", "locked": "v1.0.0"}, {"formula": C, "constraint": "<v2.0.0", "locked": "v1.5.0"}],
    ]
    assert shaker("why", A, cwd=diamond).out.splitlines() == [f"project -> {A}>=v1.0.0 (v1.0.0)"]

    unknown = shaker("why", "diamond/z-formula", cwd=diamond)
    assert unknown.code == 2, unknown
    assert unknown.err == f"salt-shaker: diamond/z-formula is not in the resolved graph of {diamond}; check the name (org/name-formula).\n"


def test_graph_text_and_dot(diamond: Path):
    text = shaker("graph", cwd=diamond)
    assert text.code == 0, text
    assert text.out.splitlines() == [
        "project",
        f"  {A} v1.0.0 (>=v1.0.0)",
        f"    {C} v1.5.0 (>=v1.0.0)",
        f"  {B} v1.0.0 (any)",
        f"    {C} v1.5.0 (<v2.0.0) (see above)",
    ]

    dot = shaker("graph", "--format", "dot", cwd=diamond)
    assert dot.code == 0, dot
    assert dot.out.startswith("digraph ")
    graph = parse_dot(dot.out)
    assert set(graph["nodes"]) == {"project", A, B, C}
    assert graph["nodes"][C] == {"label": f"{C}\\nv1.5.0"}
    assert [(a, b, attrs["label"]) for a, b, attrs in graph["edges"]] == [
        ("project", A, ">=v1.0.0"),
        ("project", B, "any"),
        (A, C, ">=v1.0.0"),
        (B, C, "<v2.0.0"),
    ]
    for line in (f'  "project" -> "{A}" [label=">=v1.0.0"];', f'  "{B}" -> "{C}" [label="<v2.0.0"];'):
        assert line in dot.out.splitlines()
    with pytest.raises(ValueError):
        parse_dot(dot.out.replace("->", "--", 1))  # the reader does refuse what is not a digraph

    bad = shaker("graph", "--format", "svg", cwd=diamond)
    assert bad.code == 2 and "invalid choice: 'svg'" in bad.err


def _load_runner():
    """The ``shaker`` runner module, with the dunders Salt's loader would inject (no master needed)."""
    spec = importlib.util.spec_from_file_location("shaker_runner_under_test", REPO / "_runners" / "shaker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROWS = [
    {"formula": A, "locked": "v1.0.0", "wanted": "v1.1.0", "latest": "v1.1.0", "outdated": True},
    {"formula": B, "locked": "v1.0.0", "wanted": "v1.0.0", "latest": "v1.0.0", "outdated": False},
    {"formula": C, "locked": "v1.5.0", "wanted": "v1.6.0", "latest": "v2.0.0", "outdated": True},
]


def _installed_then_released(world: World, tmp_path: Path) -> Path:
    """The diamond installed, then a v1.1.0 of a and a v1.6.0 and v2.0.0 of c released."""
    project = make_project(tmp_path / "project", world.template, DIAMOND)
    assert shaker("install", cwd=project).code == 0
    result = shaker("outdated", cwd=project)
    assert (result.code, result.out) == (0, "All 3 locked formulas are at their newest tags.\n"), result
    world.forge[A].commit({"a/extra.sls": "{}\n"})
    world.forge[A].tag("v1.1.0")
    for version in ("v1.6.0", "v2.0.0"):
        world.forge[C].commit({"c/init.sls": f"c_marker:\n  test.nop:\n    - name: c {version}\n"})
        world.forge[C].tag(version)
    return project


def test_outdated(world_copy: World, tmp_path: Path):
    project = _installed_then_released(world_copy, tmp_path)
    lock_before = (project / "formula-requirements.txt").read_text()

    result = shaker("outdated", cwd=project)
    assert result.code == 1, result
    assert result.out.splitlines() == [
        "formula            locked  wanted  latest",
        f"{A}  v1.0.0  v1.1.0  v1.1.0",
        f"{C}  v1.5.0  v1.6.0  v2.0.0",  # v2.0.0 exists, but b's <v2.0.0 allows only v1.6.0
    ]
    as_json = shaker("outdated", "--json", cwd=project)
    assert as_json.code == 1 and as_json.json()["formulas"] == ROWS and as_json.json()["pending"] is True
    assert (project / "formula-requirements.txt").read_text() == lock_before  # outdated writes nothing
    settings = Settings.from_mapping({"root_dir": project, "source_template": world_copy.template})
    assert api.outdated(settings)["formulas"] == ROWS

    assert shaker("update", cwd=project).code == 0
    assert {name: pin[0] for name, pin in read_lock(project / "formula-requirements.txt").items()} == {A: "v1.1.0", B: "v1.0.0", C: "v1.6.0"}
    result = shaker("outdated", cwd=project)
    assert result.code == 1, result  # c can only move by relaxing b's constraint
    assert result.out.splitlines() == ["formula            locked  wanted  latest", f"{C}  v1.6.0  v1.6.0  v2.0.0"]

    (project / "metadata.yml").write_text(f"dependencies: ['{A}']\n")  # nothing holds c below v2.0.0 any more
    assert shaker("update", cwd=project).code == 0
    result = shaker("outdated", cwd=project)
    assert (result.code, result.out) == (0, "All 2 locked formulas are at their newest tags.\n"), result


@pytest.mark.salt
def test_outdated_from_the_runner(world_copy: World, tmp_path: Path):
    """salt-run shaker.outdated: the same rows, settings from the master's shaker: mapping, plain data."""
    project = _installed_then_released(world_copy, tmp_path)
    runner = _load_runner()
    runner.__opts__ = {"shaker": {"root_dir": str(project), "source_template": world_copy.template}}
    ret = runner.outdated()
    assert ret["success"] is True and ret["pending"] is True and ret["retcode"] == 1 and ret["formulas"] == ROWS
    assert json.loads(json.dumps(ret)) == ret  # plain data, as a runner must return

    (project / "metadata.yml").write_text(f"dependencies: ['{A}']\n")
    assert shaker("update", cwd=project).code == 0
    ret = runner.outdated()
    assert ret["pending"] is False and "retcode" not in ret and ret["formulas"][0]["outdated"] is False
