"""Fixtures of the hardening tests: the small forge (built once, copied by tests that change it), a project serving it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # hardkit

from hardkit import APP, LIB, build_small_forge, lock_pins, make_project, ok  # noqa: E402
from helpers.forge import Forge  # noqa: E402
from helpers.run import shaker  # noqa: E402


@pytest.fixture(scope="session")
def small_forge_template(tmp_path_factory: pytest.TempPathFactory) -> Forge:
    """The small forge, for tests that copy it (never changed itself)."""
    return build_small_forge(tmp_path_factory.mktemp("small-forge") / "forge")


@pytest.fixture
def small_forge(small_forge_template: Forge, tmp_path: Path) -> Forge:
    """A private copy of the small forge, for a test that adds tags or breaks a repository."""
    return small_forge_template.copy(tmp_path / "forge")


@pytest.fixture
def published(small_forge: Forge, tmp_path: Path) -> Path:
    """A project that serves app v1.0.0 and lib v1.0.0; its mirrors in tmp_path/cache."""
    project = make_project(tmp_path / "project", small_forge.template, cache_dir=tmp_path / "cache", lock_timeout=20, git_timeout=10)
    ok(shaker("install", cwd=project))
    assert {name: ref for name, (ref, _) in lock_pins(project).items()} == {APP: "v1.0.0", LIB: "v1.0.0"}
    return project
