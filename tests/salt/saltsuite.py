"""Shared by the salt suite: the example forge, paths, ids and small helpers for returns."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import tempfile
from pathlib import Path

import yaml
from helpers.saltout import json_documents

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
MASTER_ID = "ss-master"
MINION_ID = "ss-minion"
LIST_CACHE_TIME = 300

# The example project (examples/project/metadata.yml).
PROJECT_METADATA = (EXAMPLES / "project" / "metadata.yml").read_text()

# What the shaker.pinned state declares: both exact, so the expected changes do not
# depend on tags other tests add to the forge.
PINNED_DEPENDENCIES = ["example_org/users-formula==v1.2.0", "example_org/common-formula==v1.1.0"]


# README "What minions see": record the formula versions the master serves in a grain on each minion.
SERVED_STATE = """\
{%- import_json "_shaker/release.json" as release %}
shaker_release:
  grains.present:
    - value:
        release: {{ release.release }}
        project_commit: {{ release.project_commit | json }}
        formulas:
        {%- for name, formula in release.formulas | dictsort %}
          {{ name }}: {{ formula.tag }}
        {%- endfor %}
"""


def _load_make_forge():
    spec = importlib.util.spec_from_file_location("shaker_example_make_forge", EXAMPLES / "make_forge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ExampleForge:
    """The example forge as bare repositories under ``root``; ``release`` adds a tag upstream."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.make_forge = _load_make_forge()
        spec = yaml.safe_load((EXAMPLES / "forge.yml").read_text())
        for name, tags in spec.items():
            # Only writes <root>/<org>/<name>.git (main() would also rewrite examples/project/shaker.yml).
            self.make_forge.build_formula(name, tags, root)

    @property
    def template(self) -> str:
        return f"file://{self.root}/{{org}}/{{name}}.git"

    def bare(self, name: str) -> Path:
        return self.root / f"{name}.git"

    def release(self, name: str, tag: str, files: dict[str, str]) -> str:
        """Commit ``files`` on top of main of ``name``, tag it ``tag`` (annotated) and push; return the commit."""
        with tempfile.TemporaryDirectory(prefix="work", dir=self.root) as work_dir:
            work = Path(work_dir) / "w"
            self._git("clone", "-q", str(self.bare(name)), str(work), cwd=Path(work_dir))
            for rel, text in files.items():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / rel).write_text(text)
            self._git("add", "-A", cwd=work)
            self._git("commit", "-q", "-m", f"Release {tag}", cwd=work)
            self._git("tag", "-a", tag, "-m", f"{name} {tag}", cwd=work)
            self._git("push", "-q", "origin", "main", f"refs/tags/{tag}", cwd=work)
            return self._git("rev-parse", f"{tag}^{{commit}}", cwd=work)

    def _git(self, *args: str, cwd: Path) -> str:
        env = {**os.environ, **self.make_forge.FIXED_ENV}
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()


def state_result(data: dict) -> dict:
    """The single state return of a ``state.apply`` of one state."""
    assert isinstance(data, dict) and len(data) == 1, data
    return next(iter(data.values()))


def progress_events(result) -> list[dict]:
    """The progress events ``salt-run --out=json`` printed before the return."""
    documents = json_documents(result.stdout)
    assert documents, f"salt-run printed no JSON: stdout={result.stdout!r} stderr={result.stderr[-2000:]!r}"
    return [d["event"] for d in documents[:-1] if isinstance(d, dict) and d.get("suffix") == "progress"]


def runner_output(result) -> tuple[dict, list[str]]:
    """(the runner's return, the progress messages printed before it) of a ``salt-run --out=json`` run."""
    return json_documents(result.stdout)[-1], [event["message"] for event in progress_events(result)]


def tag_commit(bare: Path, tag: str) -> str:
    """The commit a tag names in a bare repository."""
    done = subprocess.run(["git", "rev-parse", f"{tag}^{{commit}}"], cwd=bare, capture_output=True, text=True, check=True)
    return done.stdout.strip()
