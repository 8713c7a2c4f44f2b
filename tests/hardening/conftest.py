"""Fixtures of the hardening tests: the small forge (built once, copied by tests that change it)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # hardkit

from hardkit import build_small_forge  # noqa: E402
from helpers.forge import Forge  # noqa: E402


@pytest.fixture(scope="session")
def small_forge_template(tmp_path_factory: pytest.TempPathFactory) -> Forge:
    """The small forge, for tests that copy it (never changed itself)."""
    return build_small_forge(tmp_path_factory.mktemp("small-forge") / "forge")


@pytest.fixture
def small_forge(small_forge_template: Forge, tmp_path: Path) -> Forge:
    """A private copy of the small forge, for a test that adds tags or breaks a repository."""
    return small_forge_template.copy(tmp_path / "forge")
