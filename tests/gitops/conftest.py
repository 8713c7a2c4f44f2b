"""Fixtures of the GitOps tests: the example forge, a project repository, a recording HTTP server.

Everything lives under one short /tmp directory (AF_UNIX socket paths of the salt
daemons must stay short). The example forge is built once per session and copied for
each test that changes it.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # gitopskit

from gitopskit import EXAMPLE_PINS, PROJECT_METADATA, ExampleForge, ProjectRepo, build_example_forge, lock_text  # noqa: E402
from helpers.recorder import RecordingServer  # noqa: E402


@pytest.fixture(scope="session")
def gitops_base_dir():
    """One short directory for everything of this suite."""
    base = Path(tempfile.mkdtemp(prefix="sg", dir="/tmp"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def salt_factories_config(gitops_base_dir):
    """Daemon root dirs under the short base dir instead of the system temp dir."""
    return {"root_dir": gitops_base_dir / "f"}


@pytest.fixture(scope="session")
def forge_template(gitops_base_dir):
    """The example forge, built once; tests copy it."""
    root = gitops_base_dir / "forge-template"
    build_example_forge(root)
    return root


@pytest.fixture
def workdir():
    """A short per-test directory (tmp_path is long, and the salt module needs short paths too)."""
    path = Path(tempfile.mkdtemp(prefix="t", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def forge(forge_template, workdir):
    root = workdir / "forge"
    shutil.copytree(forge_template, root, symlinks=True)
    return ExampleForge(root)


@pytest.fixture
def project_repo(forge, workdir):
    """The example project (metadata.yml + the lock of EXAMPLE_PINS) in git."""
    return ProjectRepo(workdir / "git", PROJECT_METADATA, lock_text(forge, EXAMPLE_PINS))


@pytest.fixture
def recorder():
    with RecordingServer() as server:
        yield server
