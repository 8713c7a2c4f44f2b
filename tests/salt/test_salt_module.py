"""The ``shaker`` execution module on a minion: ``salt <minion> shaker.*``."""

from __future__ import annotations

import os

import pytest
from saltsuite import PROJECT_METADATA

pytestmark = pytest.mark.salt

FUNCTIONS = {"shaker.install", "shaker.install_pinned", "shaker.update", "shaker.check", "shaker.status", "shaker.served"}


@pytest.fixture(scope="module")
def module_project(salt_base_dir, salt_cli, salt_minion):
    """A project the minion installs itself (the minion's `shaker:` config gives the forge)."""
    project = salt_base_dir / "module-project"
    project.mkdir()
    (project / "metadata.yml").write_text(PROJECT_METADATA)
    result = salt_cli.run("shaker.install", f"root_dir={project}", minion_tgt=salt_minion.id)
    assert result.returncode == 0, result
    assert result.data["success"] is True and result.data["published"] is True
    return project, result.data


def test_status_returns_the_report(module_project, salt_cli, salt_minion):
    project, installed = module_project
    result = salt_cli.run("shaker.status", f"root_dir={project}", minion_tgt=salt_minion.id)
    assert result.returncode == 0, result
    report = result.data
    assert report["command"] == "status" and report["success"] is True
    assert report["root_dir"] == str(project)
    assert report["release"] == installed["release"] == os.path.basename(os.readlink(project / "vendor" / "_root"))
    assert report["in_sync"] is True and report["differences"] == {}
    assert report["formulas"] == installed["formulas"]
    assert report["releases"] == [installed["release"]]


def test_status_notices_drift(module_project, salt_cli, salt_minion):
    """A lock edited by hand no longer matches what is served: status says so (and changes nothing)."""
    project, installed = module_project
    lock = project / "formula-requirements.txt"
    original = lock.read_text()
    lock.write_text("".join(line for line in original.splitlines(keepends=True) if not line.startswith("example_org/users-formula")))
    try:
        result = salt_cli.run("shaker.status", f"root_dir={project}", minion_tgt=salt_minion.id)
    finally:
        lock.write_text(original)
    assert result.returncode == 0, result
    assert result.data["in_sync"] is False
    assert result.data["differences"] == {
        "example_org/users-formula": {"pinned": None, "served": installed["formulas"]["example_org/users-formula"]}
    }


def test_missing_root_is_one_sentence_error(salt_base_dir, salt_cli, salt_minion):
    missing = salt_base_dir / "no-such-project"
    result = salt_cli.run("shaker.status", f"root_dir={missing}", minion_tgt=salt_minion.id)
    assert result.returncode != 0, result
    # The CommandExecutionError text, alone: one sentence, no traceback, no dump of the failure.
    assert result.data == (
        f"ERROR: root_dir {missing} does not exist; pass the project directory that holds metadata.yml and formula-requirements.txt."
    )
    assert not missing.exists()


def test_missing_metadata_is_one_sentence_error(salt_base_dir, salt_cli, salt_minion):
    empty = salt_base_dir / "empty-project"
    empty.mkdir()
    result = salt_cli.run("shaker.install", f"root_dir={empty}", minion_tgt=salt_minion.id)
    assert result.returncode != 0, result
    assert (
        result.data
        == f"ERROR: metadata.yml not found in {empty}; create it, or run `salt-shaker install-pinned-versions` to install from the lock."
    )
    assert not (empty / "formula-requirements.txt").exists() and not (empty / "vendor" / "_root").exists()


def test_no_root_dir_is_one_sentence_error(salt_cli, salt_minion):
    """The minion's `shaker:` config has no root_dir, and none is given."""
    result = salt_cli.run("shaker.status", minion_tgt=salt_minion.id)
    assert result.returncode != 0, result
    assert result.data == "ERROR: No root_dir: pass root_dir=<project directory> or set 'shaker: {root_dir: ...}' in the config or pillar."


def test_sys_doc_shows_cli_example_for_each_function(salt_cli, salt_minion):
    result = salt_cli.run("sys.doc", "shaker", minion_tgt=salt_minion.id)
    assert result.returncode == 0, result
    assert FUNCTIONS <= set(result.data)
    for name, doc in result.data.items():
        assert "CLI Example" in doc and name in doc.split("CLI Example", 1)[1], name
