"""Fixtures of tests/formulas: the forge of formulas as they exist in the wild (see formulakit.py).

The forge is built once per session and only read; a test that changes it (new tags,
renaming it away) takes a private copy with ``world_copy``.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # formulakit

from formulakit import World  # noqa: E402


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The forges, for tests that only read them."""
    return World(tmp_path_factory.mktemp("world"))


@pytest.fixture
def world_copy(world: World, tmp_path: Path) -> World:
    """A private copy of the forges, for tests that change them."""
    return world.copy(tmp_path / "world")


@pytest.fixture(scope="module")
def short_dir():
    """A short directory under /tmp for Salt's root_dir (its unix socket paths must stay short)."""
    path = Path(tempfile.mkdtemp(prefix="sf", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
