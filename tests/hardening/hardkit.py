"""Shared by the hardening tests: a small forge, a published project, and what "nothing changed" means.

The small forge (file:// bare repositories, built with tests/helpers/forge.py)::

    org/app-formula  v1.0.0   app/init.sls, app/files/motd, _modules/app.py   -> org/lib-formula>=v1.0.0
    org/lib-formula  v1.0.0   lib/init.sls, lib/map.jinja, lib/alias.sls -> init.sls (an in-formula symlink)

A published project asks for ``org/app-formula`` and has installed it: a lock with
two pins, ``vendor/_root`` -> ``releases/<id>``, ``releases/<id>.json``, the store.

:func:`disk_state` is what every bad input must leave alone: the lock's bytes, the
``_root`` link target, the set of ``releases/`` entries and everything else under the
project (``vendor/_root`` recorded as a link), except the run records every run
writes, failed or not (``vendor/.lock`` holds the last writer's pid, ``deploy.json``
and ``deploys.jsonl`` record each run) and the mirror cache.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pygit2
import yaml
from helpers.forge import Forge, Link
from helpers.run import Result, tree_snapshot

APP, LIB = "org/app-formula", "org/lib-formula"
PROJECT_METADATA = {"dependencies": [APP]}
RECORDS = ("vendor/.lock", "vendor/deploy.json", "vendor/deploys.jsonl")


def build_small_forge(root: Path) -> Forge:
    forge = Forge(root)
    forge.formula(
        LIB,
        {"lib/init.sls": "lib: v1.0.0\n", "lib/map.jinja": "{% set lib = {} %}\n", "lib/alias.sls": Link("init.sls")},
        tag="v1.0.0",
    )
    forge.formula(
        APP,
        {"app/init.sls": "app: v1.0.0\n", "app/files/motd": "hello\n", "_modules/app.py": "def version():\n    return '1.0.0'\n"},
        dependencies=[f"{LIB}>=v1.0.0"],
        tag="v1.0.0",
    )
    return forge


def release_app(forge: Forge, version: str) -> str:
    """A new tag upstream: app ``version`` with changed and added files; return its commit."""
    app = forge[APP]
    app.commit(
        {"app/init.sls": f"app: {version}\n", f"app/{version}.sls": f"new: {version}\n", "_modules/app.py": f"def version():\n    return '{version}'\n"},
        dependencies=[f"{LIB}>=v1.0.0"],
    )
    return app.tag(version)


def make_project(root: Path, template: str, metadata: Mapping[str, Any] | None = None, **settings: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "metadata.yml").write_text(yaml.safe_dump(dict(metadata or PROJECT_METADATA), sort_keys=False))
    config = {"source_template": template, **{k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}}
    (root / "shaker.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def copy_project(source: Path, dest: Path) -> Path:
    """A private copy of a published project (vendor included; the link is relative)."""
    shutil.copytree(source, dest, symlinks=True)
    return dest


# -- what must not change --


@dataclass(frozen=True)
class DiskState:
    lock: bytes | None
    root_target: str | None
    releases: frozenset[str]
    tree: Mapping[str, Any]


def disk_state(project: Path) -> DiskState:
    lock_path = project / "formula-requirements.txt"
    root = project / "vendor" / "_root"
    releases = project / "vendor" / "releases"
    tree = {p: e for p, e in tree_snapshot(project).items() if p not in RECORDS and not p.startswith(("vendor/cache", "cache"))}
    return DiskState(
        lock=lock_path.read_bytes() if lock_path.exists() else None,
        root_target=os.readlink(root) if root.is_symlink() else None,
        releases=frozenset(os.listdir(releases)) if releases.is_dir() else frozenset(),
        tree=tree,
    )


def assert_unchanged(before: DiskState, after: DiskState, label: str = "") -> None:
    """Nothing changed, except that the store (a cache of exports by commit) may hold a new complete entry."""
    assert after.lock == before.lock, f"{label}: the lock changed"
    assert after.root_target == before.root_target, f"{label}: _root moved from {before.root_target} to {after.root_target}"
    assert after.releases == before.releases, f"{label}: releases changed: {sorted(before.releases ^ after.releases)}"
    new_store = {p for p in after.tree if p.count("/") == 2 and p.startswith("vendor/store/") and p not in before.tree}
    assert not [p for p in new_store if p.split("/")[2].startswith(".")], f"{label}: a half-written store entry was left: {sorted(new_store)}"
    tree = {p: e for p, e in after.tree.items() if not any(p == s or p.startswith(s + "/") for s in new_store)}
    changed = sorted(set(before.tree) ^ set(tree) | {p for p in before.tree if p in tree and before.tree[p] != tree[p]})
    assert not changed, f"{label}: files changed under the project: {changed[:10]}"


def ok(result: Result) -> Result:
    """``result`` after asserting that it succeeded without a traceback."""
    assert result.code == 0 and "Traceback" not in result.err, str(result)
    return result


def one_line_error(result: Result) -> str:
    """The single ``salt-shaker: ...`` line a user error prints (no traceback, nothing on stdout)."""
    assert "Traceback" not in result.err and "Traceback" not in result.out, str(result)
    lines = [line for line in result.err.splitlines() if not line.startswith("WARNING: ")]
    assert len(lines) == 1 and lines[0].startswith("salt-shaker: "), str(result)
    assert result.out == "", str(result)
    return lines[0][len("salt-shaker: "):]


# -- what a served root must be --


def lock_pins(project: Path) -> dict[str, tuple[str, str]]:
    """``{name: (ref, commit)}`` of formula-requirements.txt."""
    pins = {}
    for line in (project / "formula-requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            pin, commit, *_ = line.split()
            name, ref = pin.split("==")
            pins[name] = (ref, commit)
    return pins


def served_release(project: Path) -> str:
    return Path(os.readlink(project / "vendor" / "_root")).name


def release_record(project: Path, release: str | None = None) -> dict[str, Any]:
    release = release or served_release(project)
    return json.loads((project / "vendor" / "releases" / f"{release}.json").read_text())


def assert_serves_a_complete_release(project: Path, forge: Forge) -> dict[str, tuple[str, str]]:
    """``_root`` points at a release whose json exists and whose files are exactly what its pins hold in git.

    Returns the release's pins ``{name: (ref, commit)}``.
    """
    root = project / "vendor" / "_root"
    assert root.is_symlink(), "vendor/_root is not a link"
    release = served_release(project)
    assert (project / "vendor" / "releases" / release).is_dir(), f"_root points at a missing release {release}"
    record = release_record(project, release)
    assert record["release"] == release
    expected: dict[str, tuple[str, Any]] = {}
    for name, pin in record["formulas"].items():
        repo = pygit2.Repository(str(forge[name].bare))
        tree = repo[pin["commit"]].peel(pygit2.Tree)
        assert forge[name].git("rev-parse", f"{pin['ref']}^{{commit}}") == pin["commit"] or pin["ref"] == pin["commit"], name
        for export in pin["exports"]:
            _expect_tree(repo, tree[export].peel(pygit2.Tree) if export in tree else tree, export, expected)
        for module_dir in pin["module_dirs"]:
            _expect_tree(repo, tree[module_dir].peel(pygit2.Tree), module_dir, expected)
    # the release's own description: what its record says, naming this release and exactly its pins
    described = root / "_shaker" / "release.json"
    description = json.loads(described.read_text())
    assert description == record["description"] and description["release"] == release
    assert {name: (f["tag"], f["commit"]) for name, f in description["formulas"].items()} == {
        name: (pin["ref"], pin["commit"]) for name, pin in record["formulas"].items()}
    expected["_shaker/release.json"] = ("file", described.read_bytes())
    served = tree_snapshot(root)
    files = {path: entry for path, entry in served.items() if entry[0] != "dir"}
    assert set(files) == set(expected), f"served files differ: {sorted(set(files) ^ set(expected))}"
    for path, (kind, value) in expected.items():
        if kind == "link":
            assert files[path] == ("link", value), path
        else:
            assert (root / path).read_bytes() == value, path
    return {name: (pin["ref"], pin["commit"]) for name, pin in record["formulas"].items()}


def _expect_tree(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str, out: dict[str, tuple[str, Any]]) -> None:
    for entry in tree:
        path = f"{prefix}/{entry.name}"
        if entry.filemode == pygit2.enums.FileMode.TREE:
            _expect_tree(repo, repo[entry.id].peel(pygit2.Tree), path, out)
        elif entry.filemode == pygit2.enums.FileMode.LINK:
            out[path] = ("link", repo[entry.id].data.decode())
        else:
            out[path] = ("file", repo[entry.id].data)


def assert_lock_matches_served(project: Path) -> None:
    """The lock on disk pins exactly what ``_root`` serves, byte for byte the text the release recorded."""
    record = release_record(project)
    assert lock_pins(project) == {name: (pin["ref"], pin["commit"]) for name, pin in record["formulas"].items()}
    assert (project / "formula-requirements.txt").read_text() == record["lock_text"]
