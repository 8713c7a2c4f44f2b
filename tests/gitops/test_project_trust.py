"""Signed project repositories: a sync deploys a branch head only when a trusted key signed its commit.

Real keys (helpers/signing.py), real git, the real ``salt-shaker sync`` and
``status`` commands. The formulas are not under ``trust`` here: only the
project repository's prefix is, so what is judged is each branch head.
"""
from __future__ import annotations

import os

import pytest
import yaml
from gitopskit import EXAMPLE_PINS, FIREWALL, git, lock_text
from helpers.run import shaker
from helpers.signing import signing_config


def push(project_repo, branch: str, lock: str, key=None) -> str:
    """Commit ``lock`` on ``branch`` (made from main when new), signed with ``key`` when given, and push it."""
    work = project_repo.work
    exists = git("ls-remote", "origin", f"refs/heads/{branch}", cwd=work)
    git("fetch", "-q", "origin", cwd=work)
    git("checkout", "-q", "-B", branch, f"origin/{branch}" if exists else "origin/main", cwd=work)
    project_repo.signing = signing_config(key) if key else []
    try:
        sha = project_repo.commit(lock)
    finally:
        project_repo.signing = []
    git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    return sha


@pytest.fixture
def root(workdir, forge, project_repo, alice, bob):
    path = workdir / "root"
    (path / "keys").mkdir(parents=True)
    alice.public_file(path / "keys" / "alice.asc")
    (path / "keys" / "allowed_signers").write_text(bob.allowed_signers_line())
    settings = {
        "source_template": forge.template,
        "project": {"source": project_repo.url, "branches": ["dev_*"], "base": "main"},
        "trust": {project_repo.url: {"gpg_keys": ["keys/alice.asc"], "ssh_allowed_signers": "keys/allowed_signers", "require": "tag"}},
    }
    (path / "shaker.yml").write_text(yaml.safe_dump(settings))
    return path


def sync(root, *saltenvs: str):
    result = shaker("sync", *saltenvs, "--json", cwd=root)
    assert "Traceback" not in result.err, result
    return result


def test_each_branch_head_deploys_only_when_a_trusted_key_signed_it(root, forge, project_repo, alice, bob, mallory):
    lock = lock_text(forge, EXAMPLE_PINS)
    held = lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"})
    base = push(project_repo, "main", lock, bob)
    good = push(project_repo, "dev_good", held, alice)
    evil = push(project_repo, "dev_evil", held, mallory)
    plain = push(project_repo, "dev_plain", held)
    result = sync(root)
    assert result.code == 8, result
    envs = result.json()["environments"]
    assert envs["base"]["success"] is True and envs["base"]["project_signer"] == f"ssh:{bob.fingerprint}"
    assert envs["dev_good"]["success"] is True and envs["dev_good"]["project_signer"] == f"openpgp:{alice.fingerprint}"
    assert envs["dev_evil"]["message"] == (
        f"The project repository's branch dev_evil (head {evil[:12]}) is refused: the key that signed it is not a trusted key "
        f"(key {mallory.fingerprint[-16:]}); it was not deployed: push a commit signed by a key trusted under 'trust' {project_repo.url}.")
    assert envs["dev_plain"]["message"] == (
        f"The project repository's branch dev_plain (head {plain[:12]}) is not a signed commit, and 'trust' {project_repo.url} requires one; "
        "it was not deployed: push a commit signed by a trusted key (git commit -S).")
    assert {envs[name]["error"] for name in ("dev_evil", "dev_plain")} == {"trust"}
    served = root / "vendor" / "_root"
    assert sorted(os.listdir(served)) == ["base", "dev_good"]  # nothing of the refused branches is served or exported
    assert sorted(os.listdir(root / "vendor" / "_projects")) == ["base", "dev_good"]

    status = shaker("status", "--json", cwd=root).json()["environments"]
    assert status["base"]["project"]["signer"] == f"ssh:{bob.fingerprint}" and status["base"]["project"]["deployed"] == base
    assert status["dev_good"]["deploy"]["project_signer"] == f"openpgp:{alice.fingerprint}" and status["dev_good"]["project"]["deployed"] == good
    assert status["dev_evil"]["deploy"]["success"] is False and status["dev_evil"]["deploy"]["message"] == envs["dev_evil"]["message"]
    assert status["dev_evil"]["in_sync"] is False


def test_an_untrusted_push_leaves_the_last_signed_commit_serving(root, forge, project_repo, bob, mallory):
    signed = push(project_repo, "main", lock_text(forge, EXAMPLE_PINS), bob)
    assert sync(root).code == 0
    release = os.readlink(root / "vendor" / "_root" / "base")
    project = os.readlink(root / "vendor" / "_projects" / "base")
    evil = push(project_repo, "main", lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}), mallory)
    result = sync(root, "base")
    assert result.code == 8 and result.json()["environments"]["base"]["project_commit"] == evil, result
    assert os.readlink(root / "vendor" / "_root" / "base") == release
    assert os.readlink(root / "vendor" / "_projects" / "base") == project
    fixed = push(project_repo, "main", lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}), bob)
    result = sync(root, "base")
    assert result.code == 0, result
    assert result.json()["environments"]["base"]["project_commit"] == fixed != signed
    assert os.readlink(root / "vendor" / "_root" / "base") != release
