"""Limits hold before memory is spent: a formula with a 300 MB blob never costs 300 MB.

The formula ``org/big-formula`` holds one 300 MB file (zeros: git stores it in a few
hundred kilobytes, so the forge is quick to build, yet the object inflates to 300 MB).
salt-shaker judges the formula's size from git object headers, so the blob is
refused before it is inflated, with the default ``max_formula_bytes`` and with a
small one. The peak resident set size of the salt-shaker process is the kernel's
figure for the child (``os.wait4``), over file:// (seeded by copying objects, not
through libgit2's in-memory local transport) and over smart HTTP.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hardkit import make_project, one_line_error
from helpers.forge import git
from helpers.http_git import GitHttpServer
from helpers.run import Result, cli_env, command

BIG = "org/big-formula"
BLOB_BYTES = 300 * 1024 * 1024
PEAK_LIMIT_MB = 200
DEFAULT_LIMIT = 100 * 1024 * 1024  # the documented default of max_formula_bytes


@pytest.fixture(scope="module")
def big_forge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/org/big-formula.git`` tagged v1.0.0: big/init.sls and big/disk.img (300 MB of zeros), built with git plumbing."""
    root = tmp_path_factory.mktemp("big-forge")
    bare = root / "org" / "big-formula.git"
    git("init", "-q", "--bare", str(bare), cwd=root)
    with open("/dev/zero", "rb") as zeros:
        hash_object = subprocess.Popen(["git", "hash-object", "-w", "--stdin"], cwd=bare, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert hash_object.stdin is not None
        for _ in range(BLOB_BYTES // (1 << 20)):
            hash_object.stdin.write(zeros.read(1 << 20))
        out, _ = hash_object.communicate()
    blob = out.decode().strip()
    init = git("hash-object", "-w", "--stdin", cwd=bare, input="big: {}\n")
    meta = git("hash-object", "-w", "--stdin", cwd=bare, input=f"formula: {BIG}\n")
    inner = git("mktree", cwd=bare, input=f"100644 blob {blob}\tdisk.img\n100644 blob {init}\tinit.sls\n")
    top = git("mktree", cwd=bare, input=f"040000 tree {inner}\tbig\n100644 blob {meta}\tmetadata.yml\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    commit = git("commit-tree", top, "-m", "big", cwd=bare, env=env)
    git("update-ref", "refs/heads/main", commit, cwd=bare)
    git("tag", "v1.0.0", commit, cwd=bare)
    return root


# A child's ru_maxrss starts from its parent's resident size at fork (Linux carries the high-water mark across exec),
# so the command runs under this small launcher, never straight from pytest, whose own size grows over a long run.
LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_measured(*args: str, cwd: Path) -> tuple[Result, int]:
    """Run salt-shaker; return its result and its peak resident set size in MB, as the kernel counted it."""
    peak_file = cwd / ".peak-rss"
    done = subprocess.run([sys.executable, "-c", LAUNCHER, str(peak_file), *command(*args)], cwd=cwd, env=cli_env(), capture_output=True, text=True)
    peak_kb = int(peak_file.read_text())
    peak_file.unlink()
    return Result(done.returncode, done.stdout, done.stderr, args), peak_kb // 1024


def bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.mark.parametrize("transport", ["file", "http"])
@pytest.mark.parametrize("limit", [None, 1_000_000], ids=["default limit", "max_formula_bytes 1000000"])
def test_a_300_mb_blob_is_refused_from_its_header_and_peak_memory_stays_under_200_mb(
    big_forge: Path, tmp_path: Path, transport: str, limit: int | None
) -> None:
    settings: dict[str, object] = {"max_formula_bytes": limit} if limit else {}
    if transport == "http":
        server = GitHttpServer(big_forge, "deploy", "s3cret")
        server.__enter__()
        template = server.url + "{org}/{name}.git"
        settings["credentials"] = {server.url: {"username": "deploy", "password": "s3cret"}}
    else:
        server, template = None, f"file://{big_forge}/{{org}}/{{name}}.git"
    try:
        project = make_project(tmp_path / "project", template, {"dependencies": [BIG]}, **settings)
        result, peak_mb = run_measured("install", cwd=project)
    finally:
        if server is not None:
            server.__exit__(None, None, None)

    expected = limit or DEFAULT_LIMIT
    assert result.code == 4, str(result)
    assert one_line_error(result) == (
        f"{BIG} v1.0.0 is larger than {expected} bytes (the limit is passed at 'big/disk.img', a file of {BLOB_BYTES} bytes); "
        "raise the 'max_formula_bytes' setting if that is intended."
    )
    assert peak_mb < PEAK_LIMIT_MB, f"peak RSS {peak_mb} MB over {transport}"
    assert not (project / "vendor" / "_root").exists() and not (project / "formula-requirements.txt").exists()
    assert bytes_under(project) < 5 * 1024 * 1024  # the mirror's compressed objects only: nothing was exported
    print(f"peak RSS over {transport} with limit {expected}: {peak_mb} MB")
