"""Which branches of the project repository are which saltenvs: pure, from branch heads and the settings."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shaker_core.environments import SALTENV_NAME, environments_of

HEADS = {"main": "a" * 40, "dev_a": "b" * 40, "feature_x": "c" * 40, "feature/y": "d" * 40, "base": "e" * 40, "scratch": "f" * 40}


def test_the_base_branch_is_base_and_matching_branches_keep_their_names():
    found, warnings = environments_of(HEADS, ["dev_*", "feature*"], "main")
    assert [(e.saltenv, e.branch, e.commit) for e in found] == [
        ("base", "main", "a" * 40), ("dev_a", "dev_a", "b" * 40), ("feature_x", "feature_x", "c" * 40)]
    assert warnings == ["Branch 'feature/y' of the project repository is not deployed: a saltenv name is letters, digits, '-' and '_', "
                        "starting with a letter or digit (rename the branch, or narrow shaker:project:branches)."]


def test_a_branch_named_base_cannot_shadow_the_base_branch():
    found, warnings = environments_of(HEADS, ["*"], "main")
    assert [e.branch for e in found if e.saltenv == "base"] == ["main"]
    assert any("Branch 'base'" in w and "saltenv of the base branch 'main'" in w for w in warnings)


def test_a_missing_base_branch_is_simply_no_base_environment():
    found, _ = environments_of({"dev_a": "b" * 40}, ["dev_*"], "main")
    assert [e.saltenv for e in found] == ["dev_a"]


@given(st.dictionaries(st.text(alphabet="abz_-/.01", min_size=1, max_size=8), st.just("0" * 40), max_size=12))
def test_every_branch_is_an_environment_with_a_valid_unique_name_or_a_warning(heads):
    found, warnings = environments_of(heads, ["*"], "main")
    names = [e.saltenv for e in found]
    assert len(names) == len(set(names))
    assert all(SALTENV_NAME.fullmatch(name) for name in names)
    assert len(found) + len(warnings) == len(heads)
