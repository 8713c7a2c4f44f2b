"""Shared by the GitOps tests: the example forge, a project repository in git, signed push requests.

The example forge is the repository's own (examples/forge.yml + examples/formulas/),
built with examples/make_forge.py's ``build_formula`` (never ``main``, which rewrites
examples/project/shaker.yml). The project repository is a bare repository holding
metadata.yml and formula-requirements.txt, with a work clone to commit in:

    project = ProjectRepo(base / "git", PROJECT_METADATA, lock_text(forge, EXAMPLE_PINS))
    sha = project.publish(lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}))   # commit + push to main
    shas = project.prepare([...])     # commits pushed to a side branch only (objects in the bare repo)
    project.advance(shas[0])          # then main moves to each, as fast as a push lands
"""
from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PROJECT_METADATA = (EXAMPLES / "project" / "metadata.yml").read_text()

COMMON = "example_org/common-formula"
FIREWALL = "example_org/firewall-formula"
NGINX = "example_org/nginx-formula"
USERS = "example_org/users-formula"
# What the example project resolves to (README): nginx backtracks to v1.1.0, firewall stays below v2.
EXAMPLE_PINS = {COMMON: "v1.1.0", FIREWALL: "v1.5.0", NGINX: "v1.1.0", USERS: "v1.2.0"}
MISSING_COMMIT = "0123456789abcdef0123456789abcdef01234567"

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Project Maintainer",
    "GIT_AUTHOR_EMAIL": "ops@example.invalid",
    "GIT_COMMITTER_NAME": "Project Maintainer",
    "GIT_COMMITTER_EMAIL": "ops@example.invalid",
}


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV, **(env or {})}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr}")
    return done.stdout.strip()


# -- the example forge --


def _load_make_forge() -> Any:
    spec = importlib.util.spec_from_file_location("gitops_example_make_forge", EXAMPLES / "make_forge.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_example_forge(root: Path) -> None:
    """Write ``<root>/<org>/<name>.git`` for every formula of examples/forge.yml."""
    make_forge = _load_make_forge()
    for name, tags in yaml.safe_load((EXAMPLES / "forge.yml").read_text()).items():
        make_forge.build_formula(name, tags, root)


class ExampleForge:
    """The example forge's bare repositories under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def template(self) -> str:
        return f"file://{self.root}/{{org}}/{{name}}.git"

    def bare(self, name: str) -> Path:
        return self.root / f"{name}.git"

    def url(self, name: str) -> str:
        return f"file://{self.bare(name)}"

    def commit_of(self, name: str, tag: str) -> str:
        return git("rev-parse", f"{tag}^{{commit}}", cwd=self.bare(name))

    def release(self, name: str, tag: str, files: Mapping[str, str]) -> str:
        """Commit ``files`` on top of main of ``name``, tag it ``tag`` (annotated) and push; return the commit."""
        with tempfile.TemporaryDirectory(prefix="work", dir=self.root) as work_dir:
            work = Path(work_dir) / "w"
            git("clone", "-q", str(self.bare(name)), str(work), cwd=Path(work_dir))
            for rel, text in files.items():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / rel).write_text(text)
            git("add", "-A", cwd=work)
            git("commit", "-q", "-m", f"Release {tag}", cwd=work)
            git("tag", "-a", tag, "-m", f"{name} {tag}", cwd=work)
            git("push", "-q", "origin", "main", f"refs/tags/{tag}", cwd=work)
            return git("rev-parse", f"{tag}^{{commit}}", cwd=work)


def lock_text(forge: ExampleForge, pins: Mapping[str, str], commits: Mapping[str, str] | None = None) -> str:
    """formula-requirements.txt pinning ``pins`` ({name: tag}); ``commits`` overrides a formula's commit id."""
    lines = ["# formula-requirements.txt: written by the gitops tests."]
    for name in sorted(pins):
        commit = (commits or {}).get(name) or forge.commit_of(name, pins[name])
        lines.append(f"{name}=={pins[name]} {commit}")
    return "\n".join(lines) + "\n"


# -- the project repository --


class ProjectRepo:
    """A bare repository ``<root>/ops/project.git`` (branch main) and a work clone to commit in."""

    def __init__(self, root: Path, metadata: str, lock: str) -> None:
        self.bare = Path(root) / "ops" / "project.git"
        self.work = Path(root) / "work" / "project"
        self.bare.parent.mkdir(parents=True, exist_ok=True)
        self.work.parent.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=self.bare.parent)
        git("init", "-q", "-b", "main", str(self.work), cwd=self.work.parent)
        git("remote", "add", "origin", str(self.bare), cwd=self.work)
        self.counter = 0
        self.signing: list[str] = []  # git -c flags (helpers.signing.signing_config): when set, every commit is signed with them
        (self.work / "metadata.yml").write_text(metadata)
        self.initial = self.publish(lock, message="initial")

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def commit(self, lock: str | None = None, files: Mapping[str, str] | None = None, message: str | None = None) -> str:
        """Commit in the work clone only (nothing pushed); return the commit. Every commit is a new one."""
        self.counter += 1
        if lock is not None:
            (self.work / "formula-requirements.txt").write_text(lock)
        for rel, text in (files or {}).items():
            (self.work / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.work / rel).write_text(text)
        (self.work / "DEPLOY-SERIAL").write_text(f"{self.counter}\n")
        git("add", "-A", cwd=self.work)
        git(*self.signing, "commit", "-q", *(["-S"] if self.signing else []), "-m", message or f"change {self.counter}", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def publish(self, lock: str | None = None, files: Mapping[str, str] | None = None, message: str | None = None) -> str:
        """Commit and push to main; return the commit."""
        sha = self.commit(lock, files, message)
        git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=self.work)
        return sha

    def prepare(self, locks: Iterable[str]) -> list[str]:
        """One commit per lock text, pushed to the side branch ``staging`` (main does not move); return them."""
        shas = [self.commit(lock) for lock in locks]
        git("push", "-q", "-f", "origin", "HEAD:refs/heads/staging", cwd=self.work)
        return shas

    def advance(self, sha: str) -> None:
        """Move main to ``sha`` (already in the bare repository): what a push does once the objects are there.

        The loose ref is replaced with one rename, as git itself does, without starting a git
        process, so that twenty pushes fit in well under a second even on a busy machine.
        """
        ref = self.bare / "refs" / "heads" / "main"
        temporary = self.bare / f"main-{os.getpid()}.tmp"  # outside refs/: a reader listing refs must never see it
        temporary.write_text(sha + "\n")
        os.replace(temporary, ref)

    def head(self) -> str:
        return git("rev-parse", "refs/heads/main", cwd=self.bare)


# -- push requests --


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_payload(repo_url: str, ref: str = "refs/heads/main", after: str | None = None, message: str = "deploy") -> bytes:
    """A GitHub push event body (the parts salt-shaker may read, and some it must not need)."""
    payload = {
        "ref": ref,
        "before": "0" * 40,
        "after": after or "f" * 40,
        "repository": {
            "full_name": "ops/project",
            "clone_url": repo_url,
            "ssh_url": "git@git.example.invalid:ops/other-name.git",
            "html_url": "https://git.example.invalid/ops/other-name",
        },
        "pusher": {"name": "tester"},
        "head_commit": {"id": after or "f" * 40, "message": message},
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def gitlab_payload(repo_url: str, ref: str = "refs/heads/main", after: str | None = None) -> bytes:
    """A GitLab "Push Hook" body."""
    payload = {
        "object_kind": "tag_push" if ref.startswith("refs/tags/") else "push",
        "ref": ref,
        "checkout_sha": after or "f" * 40,
        "project": {"path_with_namespace": "ops/project", "git_http_url": repo_url, "git_ssh_url": "git@gitlab.example.invalid:ops/other.git"},
        "repository": {"name": "project", "url": "git@gitlab.example.invalid:ops/other.git"},
        "commits": [],
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def github_headers(secret: str, body: bytes, event: str = "push", delivery: str | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body),
    }


def gitlab_headers(token: str, event: str = "Push Hook", delivery: str | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Gitlab-Event": event,
        "X-Gitlab-Event-UUID": delivery or str(uuid.uuid4()),
        "X-Gitlab-Token": token,
    }


# -- what is served --


def served_release(root: Path) -> str | None:
    try:
        return os.path.basename(os.readlink(root / "vendor" / "_root"))
    except OSError:
        return None


def served_project(root: Path) -> str | None:
    try:
        return os.path.basename(os.readlink(root / "vendor" / "_project"))
    except OSError:
        return None


def served_formulas(root: Path) -> dict[str, dict[str, str]]:
    """``{name: {ref, commit}}`` of the release ``vendor/_root`` points at."""
    release = served_release(root)
    assert release, f"nothing is served under {root}"
    info = json.loads((root / "vendor" / "releases" / f"{release}.json").read_text())
    return {name: {"ref": rec["ref"], "commit": rec["commit"]} for name, rec in info["formulas"].items()}


def deploy_log(root: Path) -> list[dict[str, Any]]:
    path = root / "vendor" / "deploys.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def last_deploy(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / "vendor" / "deploy.json").read_text())
    except (OSError, ValueError):
        return None


def overlaps(deploys: list[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Every pair of deploys whose [started, finished] intervals overlap."""
    ordered = sorted(deploys, key=lambda d: d["started"])
    return [(a, b) for a, b in zip(ordered, ordered[1:], strict=False) if b["started"] < a["finished"]]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.01, what: str = "the condition") -> Any:
    """Poll ``predicate`` until it returns something true; return it, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
