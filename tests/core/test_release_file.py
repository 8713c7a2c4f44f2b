"""The release description (``_shaker/release.json``) and the release id: pure functions, no disk."""
from __future__ import annotations

import json
import time

import pytest

from shaker_core.errors import LayoutError
from shaker_core.layout import FormulaTree, plan_release
from shaker_core.release_file import NO_CONTEXT, Context, describe, parse, render


def tree(name: str = "org/users-formula", top_dirs: tuple[str, ...] = ("users",), exports: tuple[str, ...] = ("users",)) -> FormulaTree:
    return FormulaTree(name=name, ref="v1.0.0", commit="a" * 40, source="https://deploy:s3cret@git.example.com/org/users-formula.git",
                       exports=exports, exports_declared=True, top_dirs=frozenset(top_dirs), top_files=frozenset())


def test_the_release_id_names_what_the_release_is_for():
    ids = {
        context: plan_release([tree()], context).release_id
        for context in (NO_CONTEXT, Context(saltenv="dev"), Context(saltenv="prod"), Context(project_commit="b" * 40),
                        Context(project_commit="b" * 40, project_signer="ssh:SHA256:abc"))
    }
    assert len(set(ids.values())) == len(ids)  # every purpose its own release
    assert plan_release([tree()], Context(saltenv="dev")).release_id == ids[Context(saltenv="dev")]  # and the same purpose the same one


def test_a_formula_that_ships_shaker_is_refused_by_name():
    with pytest.raises(LayoutError) as caught:
        plan_release([tree(top_dirs=("users", "_shaker"))])
    assert caught.value.message.startswith("org/users-formula v1.0.0 ships a '_shaker/' directory, which salt-shaker reserves")
    assert "salt://_shaker/release.json" in caught.value.message


def test_the_description_redacts_sources_and_says_when_it_was_built():
    formulas = {"org/users-formula": {"ref": "v1.0.0", "commit": "a" * 40, "source": tree().source, "exports": ["users"], "module_dirs": []}}
    built = 1_700_000_000.5
    described = describe("0123456789abcdef", Context(saltenv="dev", project_commit="c" * 40), formulas, built)
    assert described == {
        "format": 1, "release": "0123456789abcdef", "saltenv": "dev", "project_commit": "c" * 40, "project_signer": None,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(built)),
        "formulas": {"org/users-formula": {"tag": "v1.0.0", "commit": "a" * 40, "exports": ["users"],
                                           "source": "https://deploy:***@git.example.com/org/users-formula.git"}},
    }
    assert "s3cret" not in render(described)
    assert parse(render(described), "dev") == described


@pytest.mark.parametrize("text, says", [
    (False, "The master serves no salt://_shaker/release.json in saltenv 'dev'"),
    ("", "The master serves no salt://_shaker/release.json in saltenv 'dev'"),
    ("{not json", "salt://_shaker/release.json in saltenv 'dev' is not a salt-shaker release description"),
    (json.dumps({"format": 99}), "salt://_shaker/release.json in saltenv 'dev' is not a salt-shaker release description"),
    (json.dumps(["a", "list"]), "salt://_shaker/release.json in saltenv 'dev' is not a salt-shaker release description"),
])
def test_what_a_minion_cannot_read_is_one_sentence(text, says):
    with pytest.raises(LayoutError) as caught:
        parse(text, "dev")
    assert caught.value.message.startswith(says) and caught.value.message.endswith(".")
