"""Read-only project directories: commands that only read work, writers fail with one sentence naming the path.

The project is bind-mounted read-only (``mount --bind`` then ``remount,ro``): the
suite runs as root, which file modes do not stop, so only a read-only file system
is a real refusal. Two layouts: the mirror cache outside the project (writable), and
the default cache inside it (read-only too, so ``check`` and ``outdated`` read the
mirrors as cached, with a warning).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hardkit import APP, copy_project, disk_state, ok, one_line_error, release_app
from helpers.forge import Forge
from helpers.run import shaker

READERS = {  # command -> the exit codes that mean it ran (check and outdated: 1 = something could move)
    ("check",): (0, 1),
    ("status",): (0,),
    ("why", APP): (0,),
    ("graph",): (0,),
    ("outdated",): (0, 1),
    ("install-pinned-versions",): (0,),
}
WRITERS = (("install",), ("update",), ("update", APP))


def mount_read_only(source: Path, target: Path) -> None:
    target.mkdir()
    bound = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True, text=True)
    if bound.returncode != 0:
        pytest.skip(f"a read-only bind mount needs mount privileges here: {bound.stderr.strip()}")
    subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)


@pytest.fixture(params=["cache outside the project", "cache inside the project"])
def read_only_project(request: pytest.FixtureRequest, published: Path, small_forge: Forge, tmp_path: Path):
    """(the read-only view of a published project, the writable original); a new app tag upstream gives writers work."""
    project = copy_project(published, tmp_path / "original")
    if request.param == "cache inside the project":
        shutil.copytree(tmp_path / "cache", project / "vendor" / "cache", symlinks=True)
        config = yaml.safe_load((project / "shaker.yml").read_text())
        config.pop("cache_dir")
        (project / "shaker.yml").write_text(yaml.safe_dump(config))
    release_app(small_forge, "v1.1.0")
    view = tmp_path / "read-only"
    mount_read_only(project, view)
    try:
        yield view, project
    finally:
        subprocess.run(["umount", str(view)], check=True)


def test_readers_work_on_a_read_only_project(read_only_project: tuple[Path, Path]) -> None:
    view, project = read_only_project
    before = disk_state(project)
    for args, codes in READERS.items():
        result = shaker(*args, cwd=view)
        assert result.code in codes and "Traceback" not in result.err, str(result)
        assert "salt-shaker:" not in result.err, str(result)  # no error line; a warning about a read-only cache is allowed
    assert "Nothing to do" in shaker("install-pinned-versions", cwd=view).out
    assert disk_state(project) == before


def test_writers_fail_with_one_sentence_naming_the_path(read_only_project: tuple[Path, Path]) -> None:
    view, project = read_only_project
    before = disk_state(project)
    for args in WRITERS:
        result = shaker(*args, cwd=view)
        assert result.code == 6, str(result)
        message = one_line_error(result)
        assert message.startswith(f"Cannot use {view}/"), message
        assert message.endswith(": the file system is read-only; point root_dir or cache_dir at a writable place."), message
        assert ".staging-" not in message and ".tmp-" not in message, message  # the place, never a random temporary name
    assert disk_state(project) == before
    ok(shaker("install", cwd=project))  # the same project, writable, takes the new tag
