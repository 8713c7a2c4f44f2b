"""Containment is decided on resolved paths: generated trees of files, directories and symlinks
(relative, absolute, chains, loops, links to directories, ``..`` after a link), checked with a
``realpath`` oracle over everything the release and the store hold. Bounded here; the long run
is ``tests/hardening/fuzz_long.py`` (property "symlink trees").
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from symlinkkit import A, B, build, check, materialise, trees, violations

from shaker_core.errors import LayoutError
from shaker_core.layout import LayoutPlan, release_id
from shaker_core.vendor import Vendor


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(generated=trees)
@example(generated={A.commit: [("link", "_modules", "_modules")], B.commit: [("dir", "a", "")]})  # a module directory that is a link to itself
def test_nothing_published_resolves_outside_its_formula(tmp_path_factory: pytest.TempPathFactory, generated: dict) -> None:
    check(tmp_path_factory.mktemp("vendor"), generated)


def tree(*entries: tuple[str, str, str]) -> list[tuple[str, str, str]]:
    return [("file", "a/init.sls", ""), ("file", "b/init.sls", ""), *entries]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (  # a directory link, then enough '..' to climb out: lexically inside, really /etc/passwd
            tree(("dir", "a/lib/x", ""), ("link", "a/deep", "lib/x"), ("link", "a/secret", "deep/../../../../../../../../etc/passwd")),
            "org/a-formula v1.0.0: the symlink 'a/secret' (deep/../../../../../../../../etc/passwd) resolves outside the formula; ",
        ),
        (  # the same climb under _modules/, which saltutil.sync_all pushes to every minion
            tree(("dir", "_modules/lib/x", ""), ("link", "_modules/d", "lib/x"), ("link", "_modules/etc", "d/../../../../../../../etc")),
            "org/a-formula v1.0.0: the symlink '_modules/etc' (d/../../../../../../../etc) resolves outside the formula; ",
        ),
        (  # inside the formula's tree, but into a part the release does not publish for it
            tree(("file", "README", ""), ("link", "a/readme", "../README")),
            "org/a-formula v1.0.0: the symlink 'a/readme' points outside what the formula publishes there (../README); ",
        ),
    ],
    ids=["climb through a directory link", "climb under _modules", "sideways"],
)
def test_escapes_are_refused_naming_formula_tag_and_path(tmp_path: Path, entries: list, message: str) -> None:
    assert refusal(tmp_path, {A.commit: entries, B.commit: tree()}).startswith(message)


def test_links_that_stay_inside_are_published(tmp_path: Path) -> None:
    a_tree = tree(("dir", "a/files", ""), ("file", "a/files/motd", ""), ("link", "a/motd", "files/motd"), ("link", "a/conf", "files"),
                  ("link", "a/loop", "loop"), ("file", "_modules/a.py", ""), ("link", "_modules/alias.py", "a.py"))
    vendor, plan, release = build(tmp_path, {A.commit: a_tree, B.commit: tree()})
    assert release is not None and violations(release, vendor.store) == []
    assert (release / "a" / "motd").read_text() == "a/files/motd\n"
    assert os.readlink(release / "a" / "conf") == "files" and (release / "a" / "conf" / "motd").is_file()
    assert (release / "_modules" / "alias.py").read_text() == "_modules/a.py\n"


def test_a_link_into_another_formula_is_refused(tmp_path: Path) -> None:
    """b's export sits beside a's in the release; a link from a into b resolves inside the release, yet is not a's."""
    message = refusal(tmp_path, {A.commit: tree(("link", "a/steal", "../b/init.sls")), B.commit: tree()})
    assert message.startswith("org/a-formula v1.0.0: the symlink 'a/steal' points outside what the formula publishes there (../b/init.sls)")


def test_a_module_link_into_another_formulas_export_is_refused(tmp_path: Path) -> None:
    """Module directories merge at the release's top, so '../b' from _modules/ is b's export: judged where it resolves."""
    generated = {A.commit: tree(("dir", "_modules/sub", ""), ("link", "_modules/sub/b", "../../b")), B.commit: tree()}
    message = refusal(tmp_path, generated)
    assert message.startswith("org/a-formula v1.0.0: the symlink '_modules/sub/b' points outside what the formula publishes there (../../b)")


def refusal(root: Path, generated: dict) -> str:
    plan = LayoutPlan(release_id=release_id([A, B]), formulas=(A, B))
    vendor = Vendor(root)
    with pytest.raises(LayoutError) as caught:
        vendor.build(plan, lambda source, commit, dest: materialise(generated[commit], dest), "")
    assert not (vendor.releases / plan.release_id).exists() and not list(vendor.path.glob(".staging-*"))
    return str(caught.value)
