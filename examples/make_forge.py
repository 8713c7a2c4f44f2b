#!/usr/bin/env python3
"""Turn the example formulas into a local forge of bare git repositories.

    python examples/make_forge.py [FORGE_DIR]

Reads examples/forge.yml and examples/formulas/<org>/<name>/, writes
FORGE_DIR/<org>/<name>.git (default examples/forge/) with one annotated tag per
version, and examples/project/shaker.yml pointing salt-shaker at the forge
through file:// URLs. Commit dates and authors are fixed, so the same input
always gives the same commit ids. Needs only git.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
FIXED_ENV = {
    "GIT_AUTHOR_NAME": "Example Maintainer",
    "GIT_AUTHOR_EMAIL": "maintainer@example.invalid",
    "GIT_COMMITTER_NAME": "Example Maintainer",
    "GIT_COMMITTER_EMAIL": "maintainer@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+0000",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, env={**os.environ, **FIXED_ENV}, stdout=subprocess.DEVNULL)


def build_formula(name: str, tags: dict[str, list[str]], forge: Path) -> None:
    bare = forge / f"{name}.git"
    shutil.rmtree(bare, ignore_errors=True)
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        shutil.copytree(HERE / "formulas" / name, work, dirs_exist_ok=True)
        git("init", "-q", "-b", "main", cwd=work)
        for tag, dependencies in tags.items():
            (work / "metadata.yml").write_text(yaml.safe_dump({"formula": name, "dependencies": dependencies}, sort_keys=False))
            git("add", "-A", cwd=work)
            git("commit", "-q", "--allow-empty", "-m", f"Release {tag}", cwd=work)
            git("tag", "-a", tag, "-m", f"{name} {tag}", cwd=work)
        bare.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "-q", "--bare", str(work), str(bare), cwd=work)


def main() -> int:
    forge = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE / "forge"
    spec = yaml.safe_load((HERE / "forge.yml").read_text())
    for name, tags in spec.items():
        build_formula(name, tags, forge)
    template = f"file://{forge}/{{org}}/{{name}}.git"
    (HERE / "project" / "shaker.yml").write_text(f"# Written by examples/make_forge.py: use the local example forge.\nsource_template: {template}\n")
    print(f"Built {len(spec)} formula repositories in {forge}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
