"""What is deployed is visible: the release's own description, the metrics file, and history and rollback on the command line.

Real git repositories and real ``salt-shaker`` processes; the metrics file is read
with prometheus_client's own parser, as a scraper would read it.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from helpers.forge import Forge
from helpers.run import Result, shaker
from prometheus_client.parser import text_string_to_metric_families

PROJECT = {"formula": "org/site-formula", "dependencies": ["org/users-formula", "org/nginx-formula"]}
DESCRIPTION = "_shaker/release.json"


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    forge = Forge(tmp_path / "forge")
    users = forge.formula("org/users-formula", {"users/init.sls": "users: v1.0.0\n"}, tag="v1.0.0")
    users.commit({"users/init.sls": "users: v1.1.0\n"})
    users.tag("v1.1.0")
    forge.formula("org/nginx-formula", {"nginx/init.sls": "nginx: v1.0.0\n", "_modules/nginx_util.py": "def v():\n    return 1\n"},
                  tag="v1.0.0")
    return forge


@pytest.fixture
def project(tmp_path: Path, forge: Forge) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "metadata.yml").write_text(yaml.safe_dump(PROJECT, sort_keys=False))
    (root / "shaker.yml").write_text(yaml.safe_dump({"source_template": forge.template, "metrics_file": "metrics/shaker.prom"}))
    return root


def ok(result: Result) -> Result:
    assert result.code == 0 and "Traceback" not in result.err, str(result)
    return result


def served(root: Path) -> str:
    return Path(os.readlink(root / "vendor" / "_root")).name


def lock_pins(root: Path) -> dict[str, tuple[str, str]]:
    pins = {}
    for line in (root / "formula-requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            pin, commit, *_ = line.split()
            name, ref = pin.split("==")
            pins[name] = (ref, commit)
    return pins


def metrics(root: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of the metrics file, parsed as Prometheus parses it."""
    text = (root / "metrics" / "shaker.prom").read_text()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


BASE = (("saltenv", "base"),)


def test_every_release_describes_itself(project: Path, forge: Forge) -> None:
    started = time.time()
    ok(shaker("install", cwd=project))
    description = json.loads((project / "vendor" / "_root" / DESCRIPTION).read_text())
    assert description["release"] == served(project) and description["format"] == 1
    assert description["saltenv"] is None and description["project_commit"] is None and description["project_signer"] is None
    built = time.mktime(time.strptime(description["built"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert started - 2 <= built <= time.time() + 1
    assert {name: (formula["tag"], formula["commit"]) for name, formula in description["formulas"].items()} == lock_pins(project)
    assert description["formulas"]["org/users-formula"]["exports"] == ["users"]
    assert description["formulas"]["org/nginx-formula"]["source"] == forge.template.format(org="org", name="nginx-formula")
    # the warm run changes nothing, and status calls the description part of a healthy tree
    again = ok(shaker("install-pinned-versions", "--json", cwd=project)).json()
    assert again["published"] is False and again["repaired"] is None
    assert ok(shaker("status", "--json", cwd=project)).json()["in_sync"] is True


def test_an_edited_description_is_repaired_from_what_the_release_pins(project: Path) -> None:
    ok(shaker("install", cwd=project))
    path = project / "vendor" / "_root" / DESCRIPTION
    original = json.loads(path.read_text())
    path.write_text(json.dumps({**original, "formulas": {}}))
    report = ok(shaker("install-pinned-versions", "--json", cwd=project)).json()
    assert report["repaired"]["edited"] == [DESCRIPTION]
    repaired = json.loads((project / "vendor" / "_root" / DESCRIPTION).read_text())
    assert repaired["formulas"] == original["formulas"] and repaired["release"] == served(project)


def test_a_formula_that_ships_shaker_is_refused(project: Path, forge: Forge) -> None:
    """(An export may not be named _shaker either: no export name may start with '_'.)"""
    forge.formula("org/evil-formula", {"evil/init.sls": "{}\n", "_shaker/release.json": '{"format": 1}\n'}, tag="v1.0.0")
    (project / "metadata.yml").write_text(yaml.safe_dump({**PROJECT, "dependencies": [*PROJECT["dependencies"], "org/evil-formula"]}))
    result = shaker("install", cwd=project)
    assert result.code == 6 and "Traceback" not in result.err, str(result)
    assert result.err.strip().splitlines() == [
        "salt-shaker: org/evil-formula v1.0.0 ships a '_shaker/' directory, which salt-shaker reserves for the release description "
        "(salt://_shaker/release.json); rename it in the formula or pin a version without it."]
    assert not (project / "vendor" / "_root").exists() and not (project / "formula-requirements.txt").exists()


def test_history_and_rollback_on_the_command_line(project: Path, forge: Forge) -> None:
    ok(shaker("install", cwd=project))
    first = served(project)
    (project / "metadata.yml").write_text(yaml.safe_dump({**PROJECT, "dependencies": ["org/users-formula<v1.1.0", "org/nginx-formula"]}))
    ok(shaker("update", "org/users-formula", cwd=project))
    second = served(project)
    assert first != second

    history = ok(shaker("history", "--json", cwd=project)).json()
    assert history["current"] == second
    assert [row["release"] for row in history["releases"]] == [second, first]
    assert [row["current"] for row in history["releases"]] == [True, False]
    assert [(d["command"], d["trigger"], d["release"], d["success"]) for d in history["deploys"]] == [
        ("install", "cli", first, True), ("update", "cli", second, True)]
    text = ok(shaker("history", cwd=project)).out.splitlines()
    assert text[0] == "Releases (newest first; * is served):"
    assert text[1].startswith(f"* {second}  ") and text[1].endswith("org/nginx-formula v1.0.0, org/users-formula v1.0.0")
    assert text[2].startswith(f"  {first}  ") and text[2].endswith("org/nginx-formula v1.0.0, org/users-formula v1.1.0")
    assert text[3] == "Deploys (newest first):" and f"cli  update  release {second}  ok" in text[4]

    back = ok(shaker("rollback", "--json", cwd=project)).json()
    assert back["release"] == first and back["previous_release"] == second and served(project) == first
    assert json.loads((project / "vendor" / "_root" / DESCRIPTION).read_text())["release"] == first
    assert ok(shaker("rollback", second, cwd=project)).out.startswith(f"Rolled back from {first} to {second}.")
    assert served(project) == second

    missing = shaker("rollback", "0000000000000000", cwd=project)
    assert missing.code == 6 and missing.err.startswith("salt-shaker: There is no kept release 0000000000000000 to roll back to; kept releases: ")
    assert served(project) == second


def test_the_metrics_file_after_a_success_and_a_failure(project: Path) -> None:
    before = time.time()
    ok(shaker("install", cwd=project))
    after_success = metrics(project)
    release = served(project)
    assert after_success[("shaker_last_run_success", BASE)] == 1
    assert before - 1 <= after_success[("shaker_last_run_timestamp_seconds", BASE)] <= time.time()
    assert after_success[("shaker_last_success_timestamp_seconds", BASE)] == after_success[("shaker_last_run_timestamp_seconds", BASE)]
    assert 0 < after_success[("shaker_last_run_duration_seconds", BASE)] < 120
    assert after_success[("shaker_formulas_served", BASE)] == 2
    assert after_success[("shaker_release_info", (("project_commit", ""), ("release", release), ("saltenv", "base")))] == 1
    assert after_success[("shaker_drift", BASE)] == 0
    assert after_success[("shaker_runs_total", (("outcome", "success"), ("saltenv", "base")))] == 1
    assert after_success[("shaker_runs_total", (("outcome", "failure"), ("saltenv", "base")))] == 0
    assert after_success[("shaker_pending_syncs", ())] == 0
    assert not any(name == "shaker_failures_total" for name, _ in after_success)
    assert oct((project / "metrics" / "shaker.prom").stat().st_mode & 0o777) == "0o644"

    # a hand-edited lock the master does not serve, then a run that fails: drift, and the failure counted by kind
    lock = project / "formula-requirements.txt"
    lock.write_text("".join(line for line in lock.read_text().splitlines(keepends=True) if not line.startswith("org/nginx-formula")))
    (project / "metadata.yml").write_text("dependencies: [unclosed\n")
    failed = shaker("install", cwd=project)
    assert failed.code == 3, str(failed)
    after_failure = metrics(project)
    assert after_failure[("shaker_last_run_success", BASE)] == 0
    assert after_failure[("shaker_last_success_timestamp_seconds", BASE)] == after_success[("shaker_last_success_timestamp_seconds", BASE)]
    assert after_failure[("shaker_failures_total", (("kind", "manifest"), ("saltenv", "base")))] == 1
    assert after_failure[("shaker_runs_total", (("outcome", "failure"), ("saltenv", "base")))] == 1
    assert after_failure[("shaker_drift", BASE)] == 1
    assert after_failure[("shaker_formulas_served", BASE)] == 2  # the last good release still serves
    assert sorted(p.name for p in (project / "metrics").iterdir()) == ["shaker.prom"]  # written atomically: no temporary left


def test_a_metrics_file_that_cannot_be_written_never_fails_the_run(project: Path, forge: Forge) -> None:
    (project / "shaker.yml").write_text(yaml.safe_dump({"source_template": forge.template, "metrics_file": "metadata.yml/shaker.prom"}))
    result = ok(shaker("install", cwd=project))
    assert (project / "vendor" / "_root" / DESCRIPTION).is_file()
    assert "Could not write the metrics file" in result.err and "Traceback" not in result.err
    assert ok(shaker("rollback", served(project), cwd=project)).out.startswith("Rolled back from")


def test_one_environment_and_an_explicit_base_are_one_series(project: Path) -> None:
    """A run without a saltenv and one with --saltenv base describe the same environment: one series, not two (a duplicate is invalid)."""
    ok(shaker("install", cwd=project))
    refused = shaker("install", "--saltenv", "base", cwd=project)  # no environments declared: refused, and recorded
    assert refused.code == 2, str(refused)
    text = (project / "metrics" / "shaker.prom").read_text()
    lines = [line for line in text.splitlines() if line.startswith("shaker_runs_total")]
    assert lines == ['shaker_runs_total{outcome="success",saltenv="base"} 1', 'shaker_runs_total{outcome="failure",saltenv="base"} 1']
    assert [line for line in text.splitlines() if line.startswith("shaker_last_run_success")] == ['shaker_last_run_success{saltenv="base"} 0']
