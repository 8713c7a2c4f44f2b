"""Served trees are verified against git, and the store cannot be poisoned.

Releases are hard links into ``vendor/store``, so an edit of a served file in place is
an edit of the store entry too. Each scenario applies a generated set of changes to
the served tree (content edited, mode flipped, a link retargeted, a file replaced by a
link, files and links added, files deleted, in exports and in ``_modules/``) and
checks that ``status`` names exactly those paths, that ``install-pinned-versions``
restores exactly what git holds (the oracle reads the forge with pygit2, not
salt-shaker's own code), and that no later build reuses a damaged store entry.
"""
from __future__ import annotations

import os
import random
import shutil
import stat
from pathlib import Path

import pygit2
import pytest
from hardkit import APP, LIB, assert_serves_a_complete_release, copy_project, ok, release_app, release_record, served_release
from helpers.forge import Forge
from helpers.run import shaker

SCENARIOS = 16
KINDS = ("edited", "added", "deleted")


def served_files(root: Path) -> list[str]:
    """Regular files and links under the served root (links to directories included), relative."""
    found = []
    for directory, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            path = Path(directory) / name
            if path.is_symlink() or path.is_file():
                found.append(str(path.relative_to(root)))
    return sorted(found)


def damage(root: Path, rng: random.Random) -> dict[str, set[str]]:
    """Apply 1 to 4 random changes to distinct paths of the served tree; return the paths by kind, as git would judge them."""
    expected: dict[str, set[str]] = {kind: set() for kind in KINDS}
    candidates = served_files(root)
    for path in rng.sample(candidates, rng.randint(1, min(4, len(candidates)))):
        target = root / path
        action = rng.choice(["append", "chmod", "relink", "delete", "add-file", "add-link"])
        if target.is_symlink() and action in ("append", "chmod"):
            action = "relink"
        if action == "append":
            with open(target, "ab") as handle:
                handle.write(b"# edited by hand\n")
            expected["edited"].add(path)
        elif action == "chmod":
            target.chmod(target.stat().st_mode ^ stat.S_IXUSR)
            expected["edited"].add(path)
        elif action == "relink":
            target.unlink()
            target.symlink_to("elsewhere")
            expected["edited"].add(path)
        elif action == "delete":
            target.unlink()
            expected["deleted"].add(path)
        else:
            added = target.parent / f"added-{rng.randrange(10**6)}"
            if action == "add-file":
                added.write_text("not from git\n")
            else:
                added.symlink_to("/etc/passwd")
            expected["added"].add(str(added.relative_to(root)))
    return expected


def assert_modes_match_git(project: Path, forge: Forge) -> None:
    root = project / "vendor" / "_root"
    for name, pin in release_record(project)["formulas"].items():
        repo = pygit2.Repository(str(forge[name].bare))
        for export in pin["exports"]:
            tree = repo[pin["commit"]].peel(pygit2.Tree)
            base = tree[export].peel(pygit2.Tree) if export in tree else tree
            for entry_path, mode in _modes(repo, base, export):
                if (root / entry_path).exists() and not (root / entry_path).is_symlink():
                    assert bool((root / entry_path).stat().st_mode & stat.S_IXUSR) == (mode == pygit2.enums.FileMode.BLOB_EXECUTABLE), entry_path


def _modes(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str):
    for entry in tree:
        if entry.filemode == pygit2.enums.FileMode.TREE:
            yield from _modes(repo, repo[entry.id].peel(pygit2.Tree), f"{prefix}/{entry.name}")
        else:
            yield f"{prefix}/{entry.name}", entry.filemode


def assert_store_matches_git(project: Path, forge: Forge) -> None:
    """Every store entry a served release uses holds exactly its commit's tree."""
    for name, pin in release_record(project)["formulas"].items():
        repo = pygit2.Repository(str(forge[name].bare))
        entry = project / "vendor" / "store" / pin["commit"]
        expected = {}
        _files(repo, repo[pin["commit"]].peel(pygit2.Tree), "", expected)
        assert {p: v for p, v in expected.items()} == _disk(entry), f"{name}: the store entry differs from git"


def _files(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str, out: dict) -> None:
    for entry in tree:
        path = f"{prefix}{entry.name}"
        if entry.filemode == pygit2.enums.FileMode.TREE:
            _files(repo, repo[entry.id].peel(pygit2.Tree), f"{path}/", out)
        elif entry.filemode == pygit2.enums.FileMode.LINK:
            out[path] = ("link", repo[entry.id].data.decode())
        else:
            out[path] = ("file", repo[entry.id].data, entry.filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE)


def _disk(root: Path) -> dict:
    out = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            path = Path(directory) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_file():
                out[rel] = ("file", path.read_bytes(), bool(path.stat().st_mode & stat.S_IXUSR))
    return out


@pytest.mark.parametrize("seed", range(SCENARIOS))
def test_generated_damage_is_reported_exactly_and_repaired_from_the_mirror(published: Path, small_forge: Forge, tmp_path: Path, seed: int) -> None:
    project = copy_project(published, tmp_path / f"project-{seed}")
    expected = damage(project / "vendor" / "_root", random.Random(seed))
    damaged_release = served_release(project)

    status = ok(shaker("status", "--json", cwd=project)).json()
    assert {kind: set(status["tree"][kind]) for kind in KINDS} == expected
    assert status["in_sync"] is False and status["tree"]["unverified"] == []
    human = ok(shaker("status", cwd=project)).out
    assert all(f"drift: {path} {kind} (not what git holds)" in human for kind in KINDS for path in expected[kind]), human

    report = ok(shaker("install-pinned-versions", "--json", cwd=project)).json()
    assert {kind: set(report["repaired"][kind]) for kind in KINDS} == expected
    assert report["published"] is True and report["release"] != damaged_release
    assert report["module_dirs_changed"] == any(path.startswith("_") for paths in expected.values() for path in paths)
    assert_serves_a_complete_release(project, small_forge)
    assert_modes_match_git(project, small_forge)
    assert_store_matches_git(project, small_forge)
    assert not (project / "vendor" / "releases" / damaged_release).exists()  # the damaged one is never a rollback target
    after = ok(shaker("status", "--json", cwd=project)).json()
    assert after["in_sync"] is True and not any(after["tree"][kind] for kind in KINDS)
    again = ok(shaker("install-pinned-versions", "--json", cwd=project)).json()
    assert again["published"] is False and again["repaired"] is None


def test_a_damaged_store_entry_is_never_reused_by_a_later_build(published: Path, small_forge: Forge) -> None:
    """Damage only the store (a file the release does not serve, and a file added to lib's export): status sees nothing served amiss,
    but the next release built from that store entry is exported again from the mirror."""
    lib_commit = release_record(published)["formulas"][LIB]["commit"]
    entry = published / "vendor" / "store" / lib_commit
    (entry / "metadata.yml").write_text("dependencies: [evil/formula]\n")
    (entry / "lib" / "planted.sls").write_text("planted: true\n")
    assert ok(shaker("status", "--json", cwd=published)).json()["in_sync"] is True

    release_app(small_forge, "v1.1.0")
    result = ok(shaker("install", cwd=published))

    assert f"The stored export of {LIB} v1.0.0 differs from git (1 edited, 1 added: metadata.yml, lib/planted.sls)" in result.err
    assert not (published / "vendor" / "_root" / "lib" / "planted.sls").exists()
    assert assert_serves_a_complete_release(published, small_forge)[APP][0] == "v1.1.0"
    assert_store_matches_git(published, small_forge)


def test_status_without_the_mirrors_says_what_it_could_not_verify(published: Path, tmp_path: Path) -> None:
    shutil.rmtree(tmp_path / "cache")
    status = ok(shaker("status", "--json", cwd=published)).json()
    assert status["tree"]["unverified"] == [APP, LIB] and not status["tree"]["added"]
    assert f"not verified (no cached mirror): {APP}, {LIB}" in ok(shaker("status", cwd=published)).out
