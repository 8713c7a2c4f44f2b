"""Environments from branches, on real git (file:// and smart HTTP): every matching branch of the project repository is a saltenv.

The project repository is the example project in a bare repository; branches are
made and deleted with git itself, and the deployed trees are read from disk.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from gitopskit import EXAMPLE_PINS, FIREWALL, MISSING_COMMIT, NGINX, git, github_headers, github_payload, lock_text
from helpers.http_git import GitHttpServer

from shaker_core import gitops, records
from shaker_core.settings import Settings

SECRET = "branch-envs-secret"
GLOBS = ["dev_*", "feature*"]


def settings_for(root, forge, project_url, **extra) -> Settings:
    return Settings.from_mapping({"root_dir": str(root), "source_template": forge.template,
                                  "project": {"source": project_url, "branches": GLOBS, "base": "main"}, **extra})


def push_branch(project_repo, branch: str, lock: str | None = None) -> str:
    """Create or move ``branch`` (from main) with ``lock`` and push it; the work clone returns to main."""
    work = project_repo.work
    git("checkout", "-q", "-B", branch, "refs/remotes/origin/main" if branch_missing(project_repo, branch) else branch, cwd=work)
    sha = project_repo.commit(lock)
    git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    return sha


def branch_missing(project_repo, branch: str) -> bool:
    git("fetch", "-q", "origin", cwd=project_repo.work)
    return subprocess.run(["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"], cwd=project_repo.work, capture_output=True).returncode != 0


def delete_branch(project_repo, branch: str) -> None:
    git("push", "-q", "origin", f":refs/heads/{branch}", cwd=project_repo.work)


def served(root, saltenv: str) -> dict[str, str]:
    """``{formula: tag}`` of what ``vendor/_root/<saltenv>`` serves."""
    release = os.path.basename(os.readlink(root / "vendor" / "_root" / saltenv))
    info = json.loads((root / "vendor" / "releases" / f"{release}.json").read_text())
    return {name: rec["ref"] for name, rec in info["formulas"].items()}


@pytest.fixture
def root(workdir):
    path = workdir / "project"
    path.mkdir()
    return path


@pytest.fixture
def branches(project_repo, forge):
    """main pins the example; dev_a holds firewall back; feature/y has a name no saltenv can have; scratch matches no glob."""
    git("fetch", "-q", "origin", cwd=project_repo.work)
    push_branch(project_repo, "dev_a", lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}))
    push_branch(project_repo, "feature/y", lock_text(forge, EXAMPLE_PINS))
    push_branch(project_repo, "scratch", lock_text(forge, EXAMPLE_PINS))
    return project_repo


def test_every_matching_branch_is_deployed_as_its_saltenv_sharing_mirrors_and_store(root, forge, branches):
    report = gitops.sync(settings_for(root, forge, branches.url), trigger="cli")
    assert report["success"] is True, report
    assert sorted(report["environments"]) == ["base", "dev_a"]
    assert served(root, "base") == EXAMPLE_PINS
    assert served(root, "dev_a") == {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}
    assert [w for w in report["warnings"] if "'feature/y'" in w], report["warnings"]
    # each saltenv reads its own branch's lock, from its own project export
    for saltenv in ("base", "dev_a"):
        commit = os.path.basename(os.readlink(root / "vendor" / "_projects" / saltenv))
        assert commit == report["environments"][saltenv]["project_commit"]
        assert (root / "vendor" / "projects" / commit / "formula-requirements.txt").is_file()
        # and each serves its own description: its saltenv, its branch's commit, its pins
        described = json.loads((root / "vendor" / "_root" / saltenv / "_shaker" / "release.json").read_text())
        assert (described["saltenv"], described["project_commit"]) == (saltenv, commit)
        assert described["release"] == os.path.basename(os.readlink(root / "vendor" / "_root" / saltenv))
        assert {name: formula["tag"] for name, formula in described["formulas"].items()} == served(root, saltenv)
    # one store entry per formula commit, whichever saltenvs use it: 4 formulas + firewall's older tag
    assert len([p for p in (root / "vendor" / "store").iterdir() if not p.name.startswith(".")]) == 5
    mirrors = [p for p in (root / "vendor" / "cache").rglob("*") if p.is_dir() and p.name.endswith(".git")]
    assert len(mirrors) == len(EXAMPLE_PINS) + 1  # the formulas and the project repository, once each


def test_a_new_branch_deploys_alone_and_a_deleted_branch_stops_being_served(root, forge, branches):
    settings = settings_for(root, forge, branches.url)
    gitops.sync(settings, trigger="cli")
    base_release = os.readlink(root / "vendor" / "_root" / "base")
    push_branch(branches, "feature_x", lock_text(forge, {**EXAMPLE_PINS, NGINX: "v1.0.0"}))

    before = len(records.read_deploys(root / "vendor"))
    report = gitops.sync(settings, trigger="cli", saltenvs=["feature_x"])
    assert sorted(report["environments"]) == ["feature_x"], report
    assert served(root, "feature_x")[NGINX] == "v1.0.0"
    new = records.read_deploys(root / "vendor")[before:]
    assert [d["saltenv"] for d in new] == ["feature_x"]
    assert os.readlink(root / "vendor" / "_root" / "base") == base_release

    delete_branch(branches, "feature_x")
    feature_release = os.path.basename(os.readlink(root / "vendor" / "_root" / "feature_x"))
    report = gitops.sync(settings, trigger="cli")
    assert report["removed"] == ["feature_x"] and report["success"] is True
    assert not os.path.lexists(root / "vendor" / "_root" / "feature_x")
    assert not os.path.lexists(root / "vendor" / "_projects" / "feature_x")
    assert sorted(os.listdir(root / "vendor" / "_root")) == ["base", "dev_a"]
    kept = {os.path.basename(os.readlink(root / "vendor" / "_root" / env)) for env in ("base", "dev_a")}
    assert kept <= set(os.listdir(root / "vendor" / "releases"))  # never a release another saltenv serves
    assert feature_release not in kept


def test_one_failing_environment_keeps_its_last_good_release_and_does_not_stop_the_others(root, forge, branches):
    settings = settings_for(root, forge, branches.url)
    gitops.sync(settings, trigger="cli")
    dev_release = os.readlink(root / "vendor" / "_root" / "dev_a")
    push_branch(branches, "dev_a", lock_text(forge, EXAMPLE_PINS, commits={FIREWALL: MISSING_COMMIT}))
    branches.publish(lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}))  # base moves too

    report = gitops.sync(settings, trigger="cli")
    assert report["success"] is False and report["retcode"] == report["environments"]["dev_a"]["retcode"] != 0
    assert report["environments"]["base"]["success"] is True
    assert served(root, "base")[FIREWALL] == "v1.0.0"
    assert os.readlink(root / "vendor" / "_root" / "dev_a") == dev_release
    status = gitops.status(settings)
    assert status["in_sync"] is False
    dev = status["environments"]["dev_a"]
    assert dev["deploy"]["success"] is False and MISSING_COMMIT in dev["deploy"]["message"]
    assert dev["project"]["head"] != dev["project"]["deployed"]
    assert status["environments"]["base"]["in_sync"] is True


def test_a_push_to_one_branch_syncs_only_that_environment(root, forge, branches):
    settings = settings_for(root, forge, branches.url)
    gitops.sync(settings, trigger="cli")
    push_branch(branches, "dev_a", lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.5.0"}))
    body = github_payload(branches.url, ref="refs/heads/dev_a")
    before = len(records.read_deploys(root / "vendor"))
    report = gitops.on_push(settings, {"secret": SECRET}, {"headers": github_headers(SECRET, body), "body": body.decode()})
    assert sorted(report["environments"]) == ["dev_a"] and report["success"] is True, report
    assert served(root, "dev_a")[FIREWALL] == "v1.5.0"
    assert [d["saltenv"] for d in records.read_deploys(root / "vendor")[before:]] == ["dev_a"]
    body = github_payload(branches.url, ref="refs/heads/scratch")
    ignored = gitops.on_push(settings, {"secret": SECRET}, {"headers": github_headers(SECRET, body), "body": body.decode()})
    assert ignored.get("ignored") is True and "no environment" in ignored["comment"]


def test_the_command_line_syncs_over_smart_http_and_lists_every_environment(root, forge, branches):
    with GitHttpServer(branches.bare.parent.parent, "ops", "branch-pass") as server:
        url = f"{server.url}ops/project.git"
        (root / "shaker.yml").write_text(json.dumps({"source_template": forge.template, "credentials": {server.url: {"username": "ops", "password": "branch-pass"}},
                                                     "project": {"source": url, "branches": GLOBS, "base": "main"}}))
        cli = [sys.executable, "-m", "shaker_core.cli", "--root-dir", str(root)]
        done = subprocess.run([*cli, "sync"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "[base] (branch main)" in done.stdout and "[dev_a] (branch dev_a)" in done.stdout
        assert "warning: Branch 'feature/y'" in done.stdout
        done = subprocess.run([*cli, "--json", "status"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        status = json.loads(done.stdout)
        assert status["in_sync"] is True and sorted(status["environments"]) == ["base", "dev_a"]
        assert {env: each["project"]["branch"] for env, each in status["environments"].items()} == {"base": "main", "dev_a": "dev_a"}
        done = subprocess.run([*cli, "sync", "nope"], capture_output=True, text=True)
        assert done.returncode == 2 and "No branch of the project repository is saltenv 'nope'" in done.stdout


def test_sync_without_a_project_repository_says_what_to_set(root):
    done = subprocess.run([sys.executable, "-m", "shaker_core.cli", "--root-dir", str(root), "sync"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("salt-shaker: sync deploys the project repository, and none is configured;")


def post(settings, url: str, ref: str):
    body = github_payload(url, ref=ref)
    return gitops.on_push(settings, {"secret": SECRET}, {"headers": github_headers(SECRET, body), "body": body.decode()})


def test_a_formula_push_resyncs_the_environments_that_pin_its_branch_and_reports_a_new_tag_as_outdated(root, forge, branches):
    """Each branch's lock in git decides what it serves: a formula's new tag moves nothing; a new commit on a pinned branch does."""
    firewall_main = git("rev-parse", "refs/heads/main", cwd=forge.bare(FIREWALL))
    push_branch(branches, "dev_a", lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "main"}, commits={FIREWALL: firewall_main}))
    settings = settings_for(root, forge, branches.url)
    assert gitops.sync(settings, trigger="cli")["success"] is True
    assert served(root, "dev_a")[FIREWALL] == "main"

    tagged = post(settings, forge.url(FIREWALL), "refs/tags/v9.9.9")
    assert tagged["ignored"] is True and tagged["outdated"] == [FIREWALL], tagged

    moved = forge.release(FIREWALL, "v1.6.0", {"firewall/extra.sls": "{}\n"})
    before = len(records.read_deploys(root / "vendor"))
    report = post(settings, forge.url(FIREWALL), "refs/heads/main")
    assert report["success"] is True and sorted(report["environments"]) == ["dev_a"], report
    assert [d["saltenv"] for d in records.read_deploys(root / "vendor")[before:]] == ["dev_a"]
    release = os.path.basename(os.readlink(root / "vendor" / "_root" / "dev_a"))
    info = json.loads((root / "vendor" / "releases" / f"{release}.json").read_text())
    assert info["formulas"][FIREWALL]["commit"] == moved

    unknown = post(settings, "file:///nowhere/else.git", "refs/heads/main")
    assert unknown["ignored"] is True and "nor a formula any environment's lock pins" in unknown["comment"]
