"""The ``shaker.pinned`` state applied on a minion (``salt <minion> state.apply pinned``).

pinned.sls (written by conftest) declares a project root_dir the minion can write and
its dependencies; the forge URL comes from the minion's `shaker:` config. The three
tests run in order: test mode, for real, again.
"""

from __future__ import annotations

import os

import pytest
from saltsuite import state_result

pytestmark = pytest.mark.salt

EXPECTED_CHANGES = {
    "example_org/common-formula": {"old": None, "new": "v1.1.0"},
    "example_org/users-formula": {"old": None, "new": "v1.2.0"},
}


def _apply(salt_cli, salt_minion, *args):
    result = salt_cli.run("state.apply", "pinned", *args, minion_tgt=salt_minion.id)
    return result, state_result(result.data)


def test_test_mode_predicts_and_writes_nothing(salt_cli, salt_minion, minion_project_dir):
    result, ret = _apply(salt_cli, salt_minion, "test=True")
    assert result.returncode == 0, result
    assert ret["name"] == str(minion_project_dir)
    assert ret["result"] is None
    assert ret["changes"] == EXPECTED_CHANGES
    assert ret["comment"].startswith("Would pin 2 formulas; release ")
    assert not (minion_project_dir / "formula-requirements.txt").exists()
    assert not os.path.lexists(minion_project_dir / "vendor" / "_root")
    assert not (minion_project_dir / "vendor" / "releases").exists()


def test_apply_pins_and_publishes(salt_cli, salt_minion, minion_project_dir):
    result, ret = _apply(salt_cli, salt_minion)
    assert result.returncode == 0, result
    assert ret["result"] is True
    assert ret["changes"] == EXPECTED_CHANGES
    assert ret["comment"].startswith("Pinned 2 formulas; published release ")
    release = ret["comment"].rsplit(" ", 1)[1].rstrip(".")
    root = minion_project_dir / "vendor" / "_root"
    assert os.path.basename(os.readlink(root)) == release
    assert sorted(os.listdir(root)) == ["_shaker", "_states", "common", "users"]
    lock = (minion_project_dir / "formula-requirements.txt").read_text()
    assert "example_org/common-formula==v1.1.0 " in lock and "example_org/users-formula==v1.2.0 " in lock


def test_apply_again_changes_nothing(salt_cli, salt_minion, minion_project_dir):
    root = minion_project_dir / "vendor" / "_root"
    served = os.readlink(root)
    lock = (minion_project_dir / "formula-requirements.txt").read_bytes()
    result, ret = _apply(salt_cli, salt_minion)
    assert result.returncode == 0, result
    assert ret["result"] is True
    assert ret["changes"] == {}
    release = os.path.basename(served)
    assert ret["comment"] == f"The formula root already serves the 2 pinned formulas (release {release})."
    assert os.readlink(root) == served
    assert (minion_project_dir / "formula-requirements.txt").read_bytes() == lock
    # In test mode too: nothing to do is True, not None.
    result, ret = _apply(salt_cli, salt_minion, "test=True")
    assert ret["result"] is True and ret["changes"] == {}


def test_a_served_file_edited_by_hand_is_predicted_then_rebuilt_from_git(salt_cli, salt_minion, minion_project_dir):
    served = minion_project_dir / "vendor" / "_root" / "users" / "init.sls"
    original = served.read_text()
    served.write_text(original + "# edited by hand\n")

    result, ret = _apply(salt_cli, salt_minion, "test=True")
    assert ret["result"] is None and ret["changes"] == {"repaired": {"edited": ["users/init.sls"]}}, ret
    assert ret["comment"].startswith("Would rebuild release ") and served.read_text() != original

    result, ret = _apply(salt_cli, salt_minion)
    assert ret["result"] is True and ret["changes"] == {"repaired": {"edited": ["users/init.sls"]}}, ret
    assert ret["comment"].startswith("Rebuilt release ") and served.read_text() == original
    result, ret = _apply(salt_cli, salt_minion)
    assert ret["changes"] == {}, ret


def test_a_bad_dependency_fails_with_the_message_and_writes_nothing(salt_cli, salt_minion, tmp_path):
    project = tmp_path / "bad-project"
    project.mkdir()
    result = salt_cli.run(
        "state.single", "shaker.pinned", f"name={project}", 'dependencies=["example_org/users-formula=>v1.0"]', minion_tgt=salt_minion.id
    )
    ret = state_result(result.data)
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert ret["comment"] == (
        "shaker.pinned dependencies: dependency 1 ('example_org/users-formula=>v1.0') uses unknown operator '=>'; "
        "use one of ==, !=, >=, <=, >, <."
    )
    assert sorted(os.listdir(project)) == []
