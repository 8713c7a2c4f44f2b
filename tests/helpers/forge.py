"""A forge of bare git repositories built with the git CLI, for tests.

    forge = Forge(tmp_path / "forge")
    users = forge.formula("org/users-formula", files={"users/init.sls": "users: {}\n"},
                          dependencies=["org/common-formula>=v1.0"], tag="v1.0.0")
    users.commit({"users/extra.sls": "x: 1\n"})
    users.tag("v1.1.0")                       # annotated; annotated=False for a lightweight tag
    users.move_tag("v1.1.0")                  # a new commit on main, the tag forced onto it
    users.branch("develop", files={...})      # a branch with its own commit
    users.url                                 # file:///.../forge/org/users-formula.git

Each formula is a bare repository at ``<root>/<org>/<name>.git`` with a work tree
under ``<root>/.work/`` attached to it (``git --git-dir=<bare> --work-tree=<work>``),
so every commit, tag and branch lands in the bare repository at once, with no push.
Commit and tag dates come from a counter, so the same calls give the same commit ids.
``Forge.copy(dest)`` copies the whole forge cheaply for a test that changes it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

BASE_TIME = 1767225600  # 2026-01-01T00:00:00Z
_STATE = ".forge.json"


@dataclass(frozen=True)
class Exec:
    """File content written with the executable bit."""

    text: str


@dataclass(frozen=True)
class Link:
    """A symbolic link to ``target``."""

    target: str


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None, input: str | bytes | None = None) -> str:
    """Run git, return stripped stdout; raise with stderr on failure."""
    data = input.encode() if isinstance(input, str) else input
    result = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **(env or {})}, input=data, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode().strip()


class Forge:
    """Bare repositories ``<root>/<org>/<name>.git``; ``template`` is a file:// source_template."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._formulas: dict[str, Formula] = {}
        state = self.root / _STATE
        self.clock = json.loads(state.read_text())["clock"] if state.exists() else 0
        for name in json.loads(state.read_text())["formulas"] if state.exists() else []:
            self._formulas[name] = Formula(self, name)

    @property
    def template(self) -> str:
        return f"file://{self.root}/{{org}}/{{name}}.git"

    def __getitem__(self, name: str) -> Formula:
        return self._formulas[name]

    def formula(
        self,
        name: str,
        files: Mapping[str, Any] | None = None,
        *,
        dependencies: Iterable[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        tag: str | None = None,
    ) -> Formula:
        """A new formula repository with one commit on ``main`` (and ``tag`` on it, annotated)."""
        formula = Formula(self, name)
        formula.work.mkdir(parents=True)
        formula.bare.parent.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "--bare", "-b", "main", str(formula.bare), cwd=self.root)
        self._formulas[name] = formula
        self._save()
        formula.commit(files or {}, dependencies=dependencies if dependencies is not None else [], metadata=metadata, message="initial")
        if tag:
            formula.tag(tag)
        return formula

    def tick(self) -> dict[str, str]:
        """The environment for the next deterministic timestamp."""
        self.clock += 1
        self._save()
        stamp = f"@{BASE_TIME + self.clock * 60} +0000"
        return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}

    def copy(self, dest: Path) -> Forge:
        """An independent copy of the whole forge at ``dest``."""
        shutil.copytree(self.root, dest, symlinks=True)
        return Forge(dest)

    def _save(self) -> None:
        (self.root / _STATE).write_text(json.dumps({"clock": self.clock, "formulas": sorted(self._formulas)}))


class Formula:
    """One formula: its bare repository, and a work tree attached to it (checked out on ``main``)."""

    def __init__(self, forge: Forge, name: str) -> None:
        self.forge = forge
        self.name = name
        org, repo = name.split("/")
        self.bare = forge.root / org / f"{repo}.git"
        self.work = forge.root / ".work" / org / repo

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def git(self, *args: str, input: str | bytes | None = None, timed: bool = False) -> str:
        return git(f"--git-dir={self.bare}", f"--work-tree={self.work}", *args, cwd=self.work, env=self.forge.tick() if timed else None, input=input)

    # -- changes --

    def commit(
        self,
        files: Mapping[str, Any] | None = None,
        *,
        dependencies: Iterable[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        message: str = "change",
        branch: str = "main",
    ) -> str:
        """Write ``files`` (None deletes, Exec, Link, str or bytes) and metadata.yml; commit on ``branch``."""
        self._checkout(branch)
        try:
            for rel, value in (files or {}).items():
                self._write(rel, value)
            if dependencies is not None or metadata is not None:
                document = {"formula": self.name, **(metadata or {})}
                if dependencies is not None:
                    document["dependencies"] = list(dependencies)
                (self.work / "metadata.yml").write_text(yaml.safe_dump(document, sort_keys=False))
            self.git("add", "-A")
            self.git("commit", "-q", "--allow-empty", "-m", message, timed=True)
            return self.head(branch)
        finally:
            self._checkout("main")

    def tag(self, name: str, annotated: bool = True, at: str = "HEAD", force: bool = False) -> str:
        """Tag ``at`` (default: main's head); return the commit it names."""
        args = ["tag"] + (["-f"] if force else [])
        args += ["-a", name, "-m", f"{self.name} {name}"] if annotated else [name]
        self.git(*args, at, timed=True)
        return self.git("rev-parse", f"{name}^{{commit}}")

    def move_tag(self, name: str, annotated: bool = True, files: Mapping[str, Any] | None = None) -> tuple[str, str]:
        """Commit a change on main and force ``name`` onto it; return (old commit, new commit).

        The old commit stays reachable from main, as when a maintainer re-tags a fix.
        """
        old = self.git("rev-parse", f"{name}^{{commit}}")
        new = self.commit(files or {"MOVED": f"{name} moved at {self.forge.clock}\n"}, message=f"retag {name}")
        self.tag(name, annotated=annotated, force=True)
        return old, new

    def branch(self, name: str, files: Mapping[str, Any] | None = None, dependencies: Iterable[Any] | None = None) -> str:
        """Create ``name`` at main's head (if new), then commit ``files`` on it when given; return its head."""
        if not self._has_branch(name):
            self.git("branch", name, "main")
        if files is not None or dependencies is not None:
            return self.commit(files, dependencies=dependencies, branch=name, message=f"work on {name}")
        return self.head(name)

    def delete_tag(self, name: str) -> None:
        self.git("tag", "-d", name)

    def head(self, ref: str = "main") -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}")

    def raw_commit(self, tree_entries: Mapping[str, Any], ref: str) -> str:
        """A commit built with plumbing, so it may hold what porcelain refuses (a ``.git`` directory).

        ``tree_entries`` maps a path ('a/b/c') to bytes/str; directories are nested trees.
        The commit's parent is main's head; ``ref`` (like refs/tags/v9.0.0) is set to it.
        """
        tree = self._mktree(_nest(tree_entries))
        commit = self.git("commit-tree", tree, "-p", "main", "-m", "plumbing", timed=True)
        self.git("update-ref", ref, commit)
        return commit

    # -- internals --

    def _checkout(self, branch: str) -> None:
        if self.git("symbolic-ref", "--short", "HEAD") == branch:
            return
        if self._has_branch(branch):
            self.git("checkout", "-q", branch)
        else:
            self.git("checkout", "-q", "-b", branch, "main")

    def _has_branch(self, name: str) -> bool:
        return bool(self.git("branch", "--list", name))

    def _write(self, rel: str, value: Any) -> None:
        path = self.work / rel
        if value is None:
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        if isinstance(value, Link):
            os.symlink(value.target, path)
        elif isinstance(value, Exec):
            path.write_text(value.text)
            path.chmod(0o755)
        elif isinstance(value, bytes):
            path.write_bytes(value)
        else:
            path.write_text(value)

    def _mktree(self, node: Mapping[str, Any]) -> str:
        lines = []
        for name, value in sorted(node.items()):
            if isinstance(value, dict):
                lines.append(f"040000 tree {self._mktree(value)}\t{name}")
            else:
                blob = self.git("hash-object", "-w", "--stdin", input=value)
                lines.append(f"100644 blob {blob}\t{name}")
        return self.git("mktree", input="\n".join(lines) + "\n")


def _nest(entries: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in entries.items():
        parts = path.split("/")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree
