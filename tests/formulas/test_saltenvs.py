"""Salt environments: ``environments: {base: [...], dev: [...]}`` plus shared ``dependencies:``.

Each saltenv has its own lock (``formula-requirements.txt`` for base,
``formula-requirements.<env>.txt`` otherwise) and its own link ``vendor/_root/<env>``;
garbage collection never deletes a release another saltenv serves.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml
from formulakit import TIMEZONE, A, B, C, World, make_project, read_lock, served
from helpers.run import shaker, tree_snapshot

ENVIRONMENTS = {"dependencies": [f"{C}<v2.0.0"], "environments": {"base": [A], "dev": [B, TIMEZONE]}}


def refs(lock: Path) -> dict[str, str]:
    return {name: pin[0] for name, pin in read_lock(lock).items()}


def set_dev(project: Path, dev: list[str]) -> None:
    metadata = yaml.safe_load((project / "metadata.yml").read_text())
    metadata["environments"]["dev"] = dev
    (project / "metadata.yml").write_text(yaml.safe_dump(metadata))


def test_each_saltenv_has_its_lock_and_root(world: World, tmp_path: Path):
    project = make_project(tmp_path / "project", world.template, ENVIRONMENTS)

    refused = shaker("update", cwd=project)
    assert refused.code == 2, refused
    assert refused.err == "salt-shaker: metadata.yml declares environments (base, dev); name one with saltenv (--saltenv).\n"
    assert not list(project.glob("formula-requirements*")) and not (project / "vendor" / "_root").exists()

    unknown = shaker("--saltenv", "prod", "install", cwd=project)
    assert unknown.code == 3, unknown
    assert unknown.err == "salt-shaker: metadata.yml declares no environment 'prod' under 'environments:' (it has base, dev).\n"

    base = shaker("--saltenv", "base", "install", "--json", cwd=project)
    assert base.code == 0, base
    dev = shaker("install", "--saltenv", "dev", cwd=project)
    assert dev.code == 0, dev
    assert dev.out.splitlines()[-1].startswith("Published release ") and dev.out.rstrip().endswith(f"at {project}/vendor/_root/dev.")

    assert refs(project / "formula-requirements.txt") == {A: "v1.0.0", C: "v1.5.0"}
    assert refs(project / "formula-requirements.dev.txt") == {B: "v1.0.0", C: "v1.5.0", TIMEZONE: "v1.0.0"}
    root = project / "vendor" / "_root"
    assert not root.is_symlink() and sorted(os.listdir(root)) == ["base", "dev"]
    base_target, dev_target = os.readlink(root / "base"), os.readlink(root / "dev")
    assert base_target == f"../releases/{base.json()['release']}"
    assert dev_target.startswith("../releases/") and dev_target != base_target
    assert served(root / "base") == ["a", "c"]
    assert served(root / "dev") == ["b", "c", "timezone"]

    status = shaker("status", "--saltenv", "dev", cwd=project)
    assert status.code == 0, status
    assert status.out.splitlines()[-2:] == [f"Serving release {os.path.basename(dev_target)}.", "In sync with formula-requirements.dev.txt."]
    again = shaker("--saltenv", "base", "install", cwd=project)
    assert again.out == f"Nothing to do: vendor/_root/base already serves release {os.path.basename(base_target)} (2 formulas).\n", again
    graph = shaker("graph", "--saltenv", "dev", cwd=project)
    assert graph.out.splitlines() == [
        "project",
        f"  {B} v1.0.0 (any)",
        f"    {C} v1.5.0 (<v2.0.0)",
        f"  {C} v1.5.0 (<v2.0.0) (see above)",
        f"  {TIMEZONE} v1.0.0 (any)",
    ], graph


def test_garbage_collection_keeps_what_other_saltenvs_serve(world: World, tmp_path: Path):
    project = make_project(tmp_path / "project", world.template, ENVIRONMENTS, keep_releases=1)
    assert shaker("--saltenv", "base", "install", cwd=project).code == 0
    root = project / "vendor" / "_root"
    base_release = os.path.basename(os.readlink(root / "base"))
    base_served = tree_snapshot(root / "base")
    base_lock = (project / "formula-requirements.txt").read_text()
    base_commits = {pin[1] for pin in read_lock(project / "formula-requirements.txt").values()}

    dev_releases = []
    for dev in ([B, TIMEZONE], [B], [TIMEZONE], [B, TIMEZONE]):
        set_dev(project, dev)
        result = shaker("--saltenv", "dev", "install", cwd=project)
        assert result.code == 0, result
        dev_release = os.path.basename(os.readlink(root / "dev"))
        dev_releases.append(dev_release)
        # keep_releases is 1: only the newest release and the ones a saltenv serves survive
        releases = sorted(p for p in os.listdir(project / "vendor" / "releases") if not p.endswith(".json"))
        assert releases == sorted({base_release, dev_release}), (dev, releases)
        assert os.readlink(root / "base") == f"../releases/{base_release}"
        assert tree_snapshot(root / "base") == base_served
        assert base_commits <= set(os.listdir(project / "vendor" / "store"))
        assert (project / "formula-requirements.txt").read_text() == base_lock
        assert served(root / "dev") == sorted(["c", *(name.split("/")[1].removesuffix("-formula") for name in dev)])
    assert len(set(dev_releases[:3])) == 3 and dev_releases[3] == dev_releases[0]  # each change published a new release

    # and the other way round: a base install that publishes a new release keeps dev's, drops base's old one
    metadata = yaml.safe_load((project / "metadata.yml").read_text())
    metadata["environments"]["base"] = [A, TIMEZONE]
    (project / "metadata.yml").write_text(yaml.safe_dump(metadata))
    assert shaker("--saltenv", "base", "install", cwd=project).code == 0
    new_base = os.path.basename(os.readlink(root / "base"))
    assert new_base != base_release and served(root / "base") == ["a", "c", "timezone"]
    assert os.readlink(root / "dev") == f"../releases/{dev_releases[-1]}" and (root / "dev" / "b" / "init.sls").is_file()
    releases = sorted(p for p in os.listdir(project / "vendor" / "releases") if not p.endswith(".json"))
    assert releases == sorted({new_base, dev_releases[-1]})


def test_install_without_a_saltenv_installs_every_declared_environment(world: World, tmp_path: Path):
    project = make_project(tmp_path / "project", world.template, ENVIRONMENTS)
    done = shaker("install", "--json", cwd=project)
    assert done.code == 0, done
    report = done.json()
    assert report["success"] is True and sorted(report["environments"]) == ["base", "dev"]
    assert refs(project / "formula-requirements.txt") == {A: "v1.0.0", C: "v1.5.0"}
    assert refs(project / "formula-requirements.dev.txt") == {B: "v1.0.0", C: "v1.5.0", TIMEZONE: "v1.0.0"}
    root = project / "vendor" / "_root"
    assert sorted(os.listdir(root)) == ["base", "dev"]
    assert os.readlink(root / "dev") == f"../releases/{report['environments']['dev']['release']}"
    human = shaker("install", cwd=project)
    assert human.code == 0 and human.out.splitlines()[0] == "[base]", human
