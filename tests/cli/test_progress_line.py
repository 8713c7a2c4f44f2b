"""The progress line: on a terminal, one updating line with formulas fetched out of those known, bytes received and the export under way.

stderr is a real pseudo-terminal (``pty.openpty``), so the command line sees a
terminal exactly as a person's shell gives it one.
"""
from __future__ import annotations

import os
import pty
import re
import subprocess

import yaml
from helpers.forge import Forge
from helpers.run import cli_env, command

FORMULAS = [f"org/p{i}-formula" for i in range(6)]


def run_on_a_terminal(*args: str, cwd) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; return (exit code, stdout, what the terminal showed)."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(command(*args), cwd=cwd, env=cli_env(), stdout=subprocess.PIPE, stderr=follower, timeout=60)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal was closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    return done.returncode, done.stdout.decode(), shown.decode(errors="replace")


def project(tmp_path):
    forge = Forge(tmp_path / "forge")
    for name in FORMULAS:
        short = name.split("/")[1][: -len("-formula")]
        forge.formula(name, {f"{short}/init.sls": f"{short}: 1\n", f"{short}/data.txt": "x" * 5000}, tag="v1.0.0")
    root = tmp_path / "project"
    root.mkdir()
    (root / "metadata.yml").write_text(yaml.safe_dump({"dependencies": FORMULAS}))
    (root / "shaker.yml").write_text(yaml.safe_dump({"source_template": forge.template}))
    return root


def test_a_terminal_sees_one_updating_line_of_counts(tmp_path):
    root = project(tmp_path)
    code, out, shown = run_on_a_terminal("install", cwd=root)
    assert code == 0, shown
    frames = [frame for frame in shown.split("\r\x1b[K") if frame.strip()]
    counts = [tuple(map(int, m.groups())) for m in (re.match(r"fetched (\d+)/(\d+) formulas, ", frame) for frame in frames) if m]
    assert counts, shown
    assert counts[-1] == (len(FORMULAS), len(FORMULAS))  # every fetch counted, out of every formula known by then
    assert all(done <= known for done, known in counts) and [d for d, _ in counts] == sorted(d for d, _ in counts)
    assert any(re.search(r"\d+(\.\d)? (B|kB|MB) received, exporting org/p\d-formula v1\.0\.0", frame) for frame in frames), frames
    assert shown.endswith("\r\x1b[K") and "\n" not in shown.replace("\r\n", "")  # one line, cleared at the end
    assert "Published release" in out


def test_no_progress_with_json_or_without_a_terminal(tmp_path):
    root = project(tmp_path)
    code, out, shown = run_on_a_terminal("install", "--json", cwd=root)
    assert code == 0 and shown == "" and '"success": true' in out
    done = subprocess.run(command("install-pinned-versions"), cwd=root, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
