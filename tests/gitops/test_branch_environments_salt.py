"""Environments from branches on a real master and minion: ``file_roots`` with Salt's ``__env__`` placeholder serves a new branch with no config edit.

The master's config names ``__env__: [<root_dir>/vendor/_root/__env__]`` once. A
branch pushed after the master started becomes a saltenv on the next
``salt-run shaker.sync``, and the minion renders that branch's formulas, without
a restart of the master or a change of its config.
"""
from __future__ import annotations

import shutil

import pytest
from gitopskit import EXAMPLE_PINS, FIREWALL, PROJECT_METADATA, ExampleForge, ProjectRepo, git, lock_text
from helpers.saltout import json_documents

pytestmark = pytest.mark.salt

FEATURE_STATE = "shaker_feature_firewall:\n  test.succeed_without_changes:\n    - name: feature firewall\n"


@pytest.fixture(scope="module")
def site(gitops_base_dir, forge_template):
    base = gitops_base_dir / "b"
    base.mkdir()
    forge = ExampleForge(shutil.copytree(forge_template, base / "forge", symlinks=True))
    project = ProjectRepo(base / "git", PROJECT_METADATA, lock_text(forge, EXAMPLE_PINS))
    root = base / "p"
    root.mkdir()
    return forge, project, root


@pytest.fixture(scope="module")
def master(salt_factories, site):
    forge, project, root = site
    overrides = {
        "shaker": {"root_dir": str(root), "source_template": forge.template,
                   "project": {"source": project.url, "branches": ["feature_*"], "base": "main"}},
        # salt-factories' defaults name base (and prod) state trees of its own: base is pointed at its saltenv root
        # here; every other saltenv comes from the __env__ line alone.
        "file_roots": {"__env__": [str(root / "vendor" / "_root" / "__env__")], "base": [str(root / "vendor" / "_root" / "base")]},
    }
    factory = salt_factories.salt_master_daemon("branch-envs-master", overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def minion(master):
    overrides = {"recon_default": 200, "recon_max": 1000, "recon_randomize": False, "acceptance_wait_time": 0.5, "acceptance_wait_time_max": 1}
    factory = master.salt_minion_daemon("branch-envs-minion", overrides=overrides)
    with factory.started():
        yield factory


def run_sync(master, *saltenvs):
    result = master.salt_run_cli(timeout=120).run("shaker.sync", *saltenvs)
    print(result.stdout[-3000:], result.stderr[-3000:])
    documents = json_documents(result.stdout)
    assert documents, result
    return documents[-1]


def shown_ids(master, minion, saltenv):
    shown = master.salt_cli(timeout=120).run("state.show_sls", "firewall", f"saltenv={saltenv}", minion_tgt=minion.id)
    assert shown.returncode == 0, shown
    return set(shown.data)


def test_a_branch_pushed_after_start_is_served_to_minions_with_no_master_change(site, master, minion):
    forge, project, root = site
    report = run_sync(master)
    assert report["success"] is True and sorted(report["environments"]) == ["base"], report
    assert shown_ids(master, minion, "base") == {"shaker_example_firewall"}

    forge.release(FIREWALL, "v1.6.0", {"firewall/init.sls": FEATURE_STATE})
    git("checkout", "-q", "-b", "feature_x", cwd=project.work)
    project.commit(lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.6.0"}))
    git("push", "-q", "origin", "HEAD:refs/heads/feature_x", cwd=project.work)

    report = run_sync(master, "feature_x")
    assert report["success"] is True and sorted(report["environments"]) == ["feature_x"], report
    assert report["environments"]["feature_x"]["published"] is True
    assert shown_ids(master, minion, "feature_x") == {"shaker_feature_firewall"}
    assert shown_ids(master, minion, "base") == {"shaker_example_firewall"}

    status = json_documents(master.salt_run_cli(timeout=120).run("shaker.status").stdout)[-1]
    assert sorted(status["environments"]) == ["base", "feature_x"] and status["in_sync"] is True, status

    git("push", "-q", "origin", ":refs/heads/feature_x", cwd=project.work)
    report = run_sync(master)
    assert report["removed"] == ["feature_x"], report
    assert not (root / "vendor" / "_root" / "feature_x").exists()
