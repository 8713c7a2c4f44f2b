"""Environments from branches: which branches of the project repository are which Salt environments.

Pure: from the branch heads the project repository has, the ``branches`` globs
and the ``base`` branch, say which saltenv each branch becomes and which
branches are skipped, and why.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

BASE = "base"
# What a saltenv may be called: it becomes a directory name under vendor/_root and a key of file_roots.
SALTENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True, kw_only=True, slots=True)
class Environment:
    """One saltenv deployed from one branch head."""

    saltenv: str
    branch: str
    commit: str


def environments_of(heads: Mapping[str, str], globs: Iterable[str], base: str) -> tuple[list[Environment], list[str]]:
    """(the environments, by saltenv; a warning for each matching branch that cannot be one)."""
    found: list[Environment] = []
    warnings: list[str] = []
    patterns = tuple(globs)
    for branch in sorted(heads):
        if branch != base and not any(fnmatch.fnmatchcase(branch, pattern) for pattern in patterns):
            continue
        saltenv = BASE if branch == base else branch
        problem = _naming_problem(branch, base)
        if problem:
            warnings.append(f"Branch '{branch}' of the project repository is not deployed: {problem}.")
            continue
        found.append(Environment(saltenv=saltenv, branch=branch, commit=heads[branch]))
    return sorted(found, key=lambda env: env.saltenv), warnings


def saltenv_problem(name: str) -> str | None:
    """Why ``name`` cannot be a saltenv directory, or None."""
    if not SALTENV_NAME.fullmatch(name):
        return "a saltenv name is letters, digits, '-' and '_', starting with a letter or digit"
    return None


def _naming_problem(branch: str, base: str) -> str | None:
    if branch == base:
        return None
    if branch == BASE:
        return f"its name is the saltenv of the base branch '{base}'; rename the branch"
    problem = saltenv_problem(branch)
    return f"{problem} (rename the branch, or narrow shaker:project:branches)" if problem else None
