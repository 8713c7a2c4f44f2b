"""Run the real ``salt-shaker`` command line as a subprocess, and compare directory trees.

    result = shaker("install", "--json", cwd=project)
    result.code, result.out, result.err, result.json()

    before = tree_snapshot(project)                      # vendor/_root recorded as a link
    served = tree_snapshot(project / "vendor" / "_root")  # the top symlink is followed
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

TIMEOUT = 60


@dataclass
class Result:
    code: int
    out: str
    err: str
    args: tuple[str, ...]

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:  # shown by pytest when an assertion about it fails
        return f"salt-shaker {' '.join(self.args)} -> {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"


def command(*args: str) -> list[str]:
    """The argv that runs the CLI with this interpreter."""
    return [sys.executable, "-m", "shaker_core.cli", *args]


def cli_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current (isolated) environment, plus ``env``; a None value removes a variable."""
    merged = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    merged.pop("PYTHONSTARTUP", None)
    return merged


def shaker(*args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = TIMEOUT) -> Result:
    """Run ``salt-shaker ARGS`` in ``cwd``; return its exit code, stdout and stderr."""
    done = subprocess.run(command(*args), cwd=cwd, env=cli_env(env), capture_output=True, text=True, timeout=timeout)
    return Result(done.returncode, done.stdout, done.stderr, tuple(args))


def start(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``salt-shaker ARGS`` without waiting (see :func:`finish`)."""
    return subprocess.Popen(command(*args), cwd=cwd, env=cli_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], timeout: float = TIMEOUT) -> Result:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return Result(process.returncode, out, err, tuple(process.args[3:]))


Entry = tuple[str, Any]


def tree_snapshot(path: Path) -> dict[str, Entry]:
    """``{relative path: (type, sha256 | link target | None)}`` for everything under ``path``.

    Types are ``dir``, ``file``, ``exec`` (a file with the owner's executable bit) and
    ``link``. Symlinks inside the tree are recorded, never followed; ``path`` itself is
    followed when it is a symlink (so ``vendor/_root`` snapshots what it serves).
    """
    top = Path(os.path.realpath(path))
    if not top.is_dir():
        raise FileNotFoundError(f"{path} is not a directory")
    found: dict[str, Entry] = {}
    for directory, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            full = Path(directory, name)
            rel = str(full.relative_to(top))
            if full.is_symlink():
                found[rel] = ("link", os.readlink(full))
            elif full.is_dir():
                found[rel] = ("dir", None)
            else:
                kind = "exec" if full.stat().st_mode & 0o100 else "file"
                found[rel] = (kind, hashlib.sha256(full.read_bytes()).hexdigest())
    return found


def path_names(path: Path) -> list[str]:
    """Every path under ``path`` (relative), symlinks not followed."""
    return [str(Path(d, n).relative_to(path)) for d, dirs, files in os.walk(path) for n in dirs + files]
