"""Fetching over SSH from a real sshd on 127.0.0.1: a key from the ``credentials`` setting, host keys checked.

This is where credentials matter: the server accepts one key only, so a fetch
without it, or with another key, must fail with a GitError that names the
formula and says to check the credentials; and an unknown host key is refused.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers.forge import Forge
from helpers.run import shaker
from helpers.ssh_git import SshGitServer

from shaker_core.errors import GitError
from shaker_core.git import Credentials, GitCache


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    forge = Forge(tmp_path / "forge")
    forge.formula("org/users-formula", files={"users/init.sls": "users: {}\n"}, tag="v1.0.0")
    forge["org/users-formula"].commit({"users/init.sls": "users: {v: 2}\n"})
    forge["org/users-formula"].tag("v1.1.0")
    return forge


@pytest.fixture
def sshd(forge: Forge, tmp_path: Path):
    with SshGitServer(forge.root, tmp_path / "sshd") as server:
        yield server


@pytest.fixture
def known_host(sshd: SshGitServer):
    """Tell the client (libgit2 reads ~/.ssh/known_hosts of the test's isolated HOME) the server's host key."""
    ssh_dir = Path(os.environ["HOME"]) / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    known = ssh_dir / "known_hosts"
    known.write_text(sshd.known_hosts_line)
    yield known
    known.unlink()


def cache(tmp_path: Path, credentials: dict) -> GitCache:
    return GitCache(tmp_path / "cache", credentials=Credentials(credentials), timeout=20)


def test_fetch_over_ssh_with_the_configured_key(sshd: SshGitServer, known_host: Path, tmp_path: Path) -> None:
    url = sshd.url("org/users-formula")
    prefix = f"ssh://{sshd.user}@127.0.0.1:{sshd.port}/"
    with cache(tmp_path, {prefix: {"ssh_key": str(sshd.client_key)}}) as git:
        tags = git.versions(url)
    assert sorted(tags) == ["v1.0.0", "v1.1.0"]


def test_a_missing_or_wrong_key_fails_naming_the_formula(sshd: SshGitServer, known_host: Path, tmp_path: Path) -> None:
    url = sshd.url("org/users-formula")
    other_key = tmp_path / "other_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    prefix = f"ssh://{sshd.user}@127.0.0.1:{sshd.port}/"
    for credentials in ({}, {prefix: {"ssh_key": str(other_key)}}):
        with cache(tmp_path / str(len(credentials)), credentials) as git, pytest.raises(GitError) as failure:
            git.versions(url)
        message = str(failure.value)
        assert message.startswith("Fetching org/users-formula (ssh://"), message
        assert "credentials" in message, message


def test_an_unknown_host_key_is_refused(sshd: SshGitServer, tmp_path: Path) -> None:
    url = sshd.url("org/users-formula")
    prefix = f"ssh://{sshd.user}@127.0.0.1:{sshd.port}/"
    with cache(tmp_path, {prefix: {"ssh_key": str(sshd.client_key)}}) as git, pytest.raises(GitError) as failure:
        git.versions(url)
    assert "org/users-formula" in str(failure.value)
    assert not list((tmp_path / "cache").glob("*.git")), "a refused fetch must leave no mirror behind"


def test_salt_shaker_installs_over_ssh(sshd: SshGitServer, known_host: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "metadata.yml").write_text("dependencies:\n  - org/users-formula>=v1.0.0\n")
    prefix = f"ssh://{sshd.user}@127.0.0.1:{sshd.port}/"
    (project / "shaker.yml").write_text(
        f"source_template: {sshd.template}\ncredentials:\n  '{prefix}':\n    ssh_key: {sshd.client_key}\n"
    )
    result = shaker("install", "--root_dir", str(project), cwd=tmp_path)
    assert result.code == 0, result.err
    assert (project / "vendor" / "_root" / "users" / "init.sls").read_text() == "users: {v: 2}\n"
    assert "org/users-formula==v1.1.0" in (project / "formula-requirements.txt").read_text()
