"""The rules that hold the code's shape: lint, types, and the core's independence from Salt."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def test_ruff_passes_including_the_banned_imports():
    """ruff also enforces that only the git modules (shaker_core/git*.py but gitops.py) import pygit2 and that shaker_core never imports salt."""
    result = run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes_on_the_core():
    result = run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_core_imports_and_runs_without_salt():
    """With every salt module made unimportable, the whole core and its command line still work."""
    code = (
        "import sys; sys.modules['salt'] = None\n"
        "import shaker_core.api, shaker_core.cli, shaker_core.gitops, shaker_core.adapter, shaker_core.saltext\n"
        "assert not [m for m in sys.modules if m == 'salt' or m.startswith('salt.')] or sys.modules['salt'] is None\n"
        "sys.argv = ['salt-shaker', '--version']\n"
        "shaker_core.cli.main()\n"
    )
    result = run(sys.executable, "-c", code)
    assert result.returncode == 0 and "salt-shaker" in result.stdout, result.stdout + result.stderr
