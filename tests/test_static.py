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


def test_mypy_passes_on_the_core_and_the_salt_modules():
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


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 40


def test_no_core_module_or_function_outgrows_one_concept():
    """Every module under shaker_core/ stays under 400 lines and every function under 40."""
    import ast

    too_long = []
    for path in sorted((ROOT / "shaker_core").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{path.name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                too_long.append(f"{path.name}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert too_long == []


def test_the_salt_faces_define_each_project_command_once():
    """The runner and the execution module take install, install_pinned, update, check and status from one place."""
    import ast

    shared = {"install", "install_pinned", "update", "check", "status"}
    for face in ("_runners/shaker.py", "_modules/shaker.py"):
        defined = {node.name for node in ast.parse((ROOT / face).read_text(encoding="utf-8")).body if isinstance(node, ast.FunctionDef)}
        assert defined & shared == set(), face
