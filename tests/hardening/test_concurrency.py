"""Many writers against one root at once: they serialise on vendor/.lock, none fails because of another.

Started together on a published project with a new upstream tag:

- 10 ``salt-shaker install`` command lines (subprocesses),
- 3 ``shaker_core.api.install`` calls in threads of this process,
- ``salt-call --local shaker.install`` (the execution module, masterless, a minimal
  minion config with ``file_client: local``) and ``salt-call --local state.single
  shaker.pinned`` (the state), both subprocesses.

All succeed, they agree on the release, exactly one of them publishes it, and the lock
and ``vendor/_root`` agree at the end. No salt daemon is started.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from hardkit import (
    APP,
    LIB,
    assert_lock_matches_served,
    assert_serves_a_complete_release,
    lock_pins,
    make_project,
    release_app,
    served_release,
)
from helpers.forge import Forge
from helpers.run import cli_env, finish, shaker, start

from shaker_core import api
from shaker_core.settings import Settings

CLI_RUNS, API_RUNS = 10, 3
SALT_CALL = str(Path(sys.executable).with_name("salt-call"))


def minion_config(base: Path, template: str, cache: Path) -> Path:
    config_dir = base / "etc"
    config_dir.mkdir(parents=True)
    (config_dir / "minion").write_text(yaml.safe_dump({
        "id": "hardening-minion",
        "file_client": "local",
        "root_dir": str(base),
        "pki_dir": str(base / "pki"),
        "cachedir": str(base / "cache"),
        "sock_dir": str(base / "run"),
        "log_file": str(base / "minion.log"),
        "file_roots": {"base": [str(base / "states")]},
        "extension_modules": str(base / "extmods"),
        "shaker": {"source_template": template, "cache_dir": str(cache), "lock_timeout": 120},
    }))
    # Two salt-call processes started at once race in Salt's own start-up: both create the extension
    # modules directory and the loser exits 17 ("File exists"). Made here, it already exists for both.
    (base / "extmods").mkdir(parents=True)
    return config_dir


def salt_call(config_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([SALT_CALL, "--local", "-c", str(config_dir), "--out=json", "--retcode-passthrough", *args],
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.salt  # two of the writers are salt-call
def test_writers_started_together_serialise_and_agree(small_forge: Forge, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    project = make_project(tmp_path / "project", small_forge.template, cache_dir=cache, lock_timeout=120)
    assert shaker("install", cwd=project).code == 0
    first = served_release(project)
    new_commit = release_app(small_forge, "v1.1.0")
    deploys_before = len((project / "vendor" / "deploys.jsonl").read_text().splitlines())
    config_dir = minion_config(tmp_path / "salt", small_forge.template, cache)
    settings = Settings.from_mapping({"root_dir": str(project), "source_template": small_forge.template, "cache_dir": str(cache), "lock_timeout": 120})
    api_reports: list[dict] = []
    api_errors: list[BaseException] = []

    def api_install() -> None:
        try:
            api_reports.append(api.install(settings))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            api_errors.append(exc)

    gate = threading.Barrier(API_RUNS + 1)

    def after_gate() -> None:
        gate.wait()
        api_install()

    threads = [threading.Thread(target=after_gate) for _ in range(API_RUNS)]
    for thread in threads:
        thread.start()
    module = salt_call(config_dir, "shaker.install", f"root_dir={project}")
    state = salt_call(config_dir, "state.single", "shaker.pinned", f"name={project}")
    processes = [start("install", "--json", cwd=project) for _ in range(CLI_RUNS)]
    gate.wait()

    results = [finish(process, timeout=180) for process in processes]
    for thread in threads:
        thread.join(timeout=180)
    module_out, module_err = module.communicate(timeout=180)
    state_out, state_err = state.communicate(timeout=180)

    for result in results:
        assert result.code == 0 and "Traceback" not in result.err, str(result)
    assert not api_errors, api_errors
    assert module.returncode == 0, module_err[-3000:]
    assert state.returncode == 0, state_err[-3000:]
    module_report = json.loads(module_out)["local"]
    state_return = next(iter(json.loads(state_out)["local"].values()))
    assert state_return["result"] is True, state_return

    reports = [result.json() for result in results] + api_reports + [module_report]
    assert len(reports) == CLI_RUNS + API_RUNS + 1
    final = served_release(project)
    assert final != first
    assert {report["release"] for report in reports} == {final}
    assert all(report["success"] is True and report["formulas"][APP] == {"ref": "v1.1.0", "commit": new_commit} for report in reports)
    published = [report for report in reports if report["published"]]
    assert len(published) == 1 and published[0]["previous_release"] == first, [r["published"] for r in reports]
    assert state_return["changes"] == {}  # the state keeps a lock that satisfies it: the old one or the new, never a third

    assert {name: ref for name, (ref, _) in lock_pins(project).items()} == {APP: "v1.1.0", LIB: "v1.0.0"}
    assert_serves_a_complete_release(project, small_forge)
    assert_lock_matches_served(project)
    deploys = [json.loads(line) for line in (project / "vendor" / "deploys.jsonl").read_text().splitlines()[deploys_before:]]
    assert len(deploys) == CLI_RUNS + API_RUNS + 2 and all(deploy["success"] for deploy in deploys)
    assert sorted({deploy["trigger"] for deploy in deploys}) == ["cli", "module", "state"]
    assert len({deploy["pid"] for deploy in deploys}) == CLI_RUNS + 3  # 10 CLIs, this process, two salt-calls
    vendor = project / "vendor"
    assert not [p for p in vendor.iterdir() if p.name.startswith((".staging-", ".root-"))]
    assert shaker("status", "--json", cwd=project).json()["in_sync"] is True
