"""GitOps without daemons: shaker_core.gitops on real bare git repositories.

The project repository (metadata.yml + formula-requirements.txt of the example
project) is a bare repository served over file://, the formulas come from the
example forge. Every test starts from a fresh copy of both.
"""
from __future__ import annotations

import os
import threading
import time

import pytest
from gitopskit import (
    COMMON,
    EXAMPLE_PINS,
    FIREWALL,
    MISSING_COMMIT,
    NGINX,
    PROJECT_METADATA,
    USERS,
    deploy_log,
    github_headers,
    github_payload,
    last_deploy,
    lock_text,
    overlaps,
    served_formulas,
    served_project,
    served_release,
)

from shaker_core import coalesce, gitops, records
from shaker_core.errors import LayoutError
from shaker_core.settings import Settings

SECRET = "core-webhook-secret"


@pytest.fixture
def root(workdir):
    path = workdir / "project"
    path.mkdir()
    return path


def make_settings(root, forge, project_repo=None, **extra) -> Settings:
    mapping = {"root_dir": str(root), "source_template": forge.template, **extra}
    if project_repo is not None:
        mapping["project"] = {"source": project_repo.url, "branch": "main"}
    return Settings.from_mapping(mapping)


def pin_lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def pin_lines(path) -> list[str]:
    return pin_lines_of(path.read_text())


def pins_of(forge, pins) -> dict:
    return {name: {"ref": tag, "commit": forge.commit_of(name, tag)} for name, tag in pins.items()}


@pytest.fixture
def settings(root, forge, project_repo):
    return make_settings(root, forge, project_repo)


@pytest.fixture
def synced(settings, root, project_repo):
    """The first sync of the example project; returns its report."""
    report = gitops.sync(settings)
    assert report["success"] is True, report
    return report


def test_sync_publishes_project_and_root(settings, root, forge, project_repo):
    before = time.time()
    report = gitops.sync(settings, trigger="webhook", delivery="d-1")
    assert report["success"] is True, report
    assert report["published"] is True and report["previous_release"] is None
    assert report["project_commit"] == project_repo.initial
    assert report["runs"] == 1
    # vendor/_project -> projects/<commit>, holding the repository's files (and no .git).
    assert os.readlink(root / "vendor" / "_project") == f"projects/{project_repo.initial}"
    project = root / "vendor" / "projects" / project_repo.initial
    assert (project / "metadata.yml").read_text() == PROJECT_METADATA
    # The lock is the repository's (salt-shaker may rewrite its comment header in place).
    assert pin_lines(project / "formula-requirements.txt") == pin_lines_of(lock_text(forge, EXAMPLE_PINS))
    assert not (project / ".git").exists()
    # vendor/_root -> releases/<id>, serving exactly what the project's lock pins.
    assert os.readlink(root / "vendor" / "_root") == f"releases/{report['release']}"
    assert served_formulas(root) == pins_of(forge, EXAMPLE_PINS)
    assert sorted(os.listdir(root / "vendor" / "_root")) == ["_modules", "_shaker", "_states", "common", "firewall", "nginx", "users"]
    # Nothing was written beside the project repository into root_dir itself.
    assert sorted(os.listdir(root)) == ["vendor"]
    (record,) = records.read_deploys(root / "vendor")
    assert record["project_commit"] == project_repo.initial
    assert record["trigger"] == "webhook:d-1"
    assert record["success"] is True and record["published"] is True
    assert record["release"] == report["release"]
    assert record["formulas"] == pins_of(forge, EXAMPLE_PINS)
    assert before <= record["started"] <= record["finished"] <= time.time()
    assert last_deploy(root) == record


def test_new_project_commit_moves_a_formula(settings, synced, root, forge, project_repo):
    new = project_repo.publish(lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}))
    report = gitops.sync(settings)
    assert report["success"] is True, report
    assert report["project_commit"] == new
    assert report["published"] is True and report["previous_release"] == synced["release"]
    assert report["release"] != synced["release"]
    assert report["served_changes"] == {
        FIREWALL: {"kind": "moved", "old": {"ref": "v1.5.0", "commit": forge.commit_of(FIREWALL, "v1.5.0")},
                   "new": {"ref": "v1.0.0", "commit": forge.commit_of(FIREWALL, "v1.0.0")}}
    }
    assert served_project(root) == new
    assert served_release(root) == report["release"]
    assert served_formulas(root) == pins_of(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"})
    first, second = records.read_deploys(root / "vendor")
    assert first["project_commit"] == project_repo.initial
    assert second["project_commit"] == new and second["success"] is True and second["release"] == report["release"]
    # A sync with nothing new publishes nothing and still records the deploy.
    again = gitops.sync(settings)
    assert again["success"] is True and again["published"] is False and again["release"] == report["release"]
    assert len(records.read_deploys(root / "vendor")) == 3


def test_suspend_makes_sync_a_no_op_and_resume_restores(settings, synced, root, forge, project_repo):
    suspended = gitops.suspend(settings, "incident 42", by="tester")
    assert suspended["success"] is True and suspended["suspended"]["reason"] == "incident 42" and suspended["suspended"]["by"] == "tester"
    new = project_repo.publish(lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}))
    report = gitops.sync(settings)
    assert report == {
        "command": "sync",
        "success": True,
        "suspended": True,
        "changes": {},
        "comment": "Syncing is suspended (incident 42); run shaker.resume to sync again.",
    }
    reconciled = gitops.reconcile(settings)
    assert reconciled["suspended"] is True and reconciled["command"] == "reconcile"
    # A verified push is a no-op too.
    body = github_payload(project_repo.url)
    pushed = gitops.on_push(settings, {"secret": SECRET}, {"headers": github_headers(SECRET, body), "body": body})
    assert pushed["suspended"] is True and pushed["push"]["provider"] == "github"
    assert served_project(root) == project_repo.initial
    assert served_release(root) == synced["release"]
    assert len(records.read_deploys(root / "vendor")) == 1
    assert gitops.history(settings)["current"] == synced["release"]

    resumed = gitops.resume(settings)
    assert resumed["was_suspended"]["reason"] == "incident 42"
    assert resumed["comment"] == "Syncing resumed; the next push or schedule syncs."
    assert gitops.resume(settings)["comment"] == "Syncing was not suspended."
    report = gitops.sync(settings)
    assert report["success"] is True and report["published"] is True and report["project_commit"] == new
    assert served_project(root) == new
    assert served_formulas(root)[FIREWALL]["ref"] == "v1.0.0"


def test_history_and_atomic_rollback(settings, synced, root, forge, project_repo):
    project_repo.publish(lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}))
    second = gitops.sync(settings)
    assert second["published"] is True
    history = gitops.history(settings)
    assert history["current"] == second["release"]
    assert [r["release"] for r in history["releases"]] == [second["release"], synced["release"]]
    assert [r["current"] for r in history["releases"]] == [True, False]
    assert history["releases"][1]["formulas"] == EXAMPLE_PINS
    assert history["releases"][0]["formulas"][FIREWALL] == "v1.0.0"
    assert [d["release"] for d in history["deploys"]] == [synced["release"], second["release"]]

    # A reader that keeps opening a served file while _root switches never misses it.
    misses, reads, stop = [], [0], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                with open(root / "vendor" / "_root" / "firewall" / "init.sls") as handle:
                    handle.read()
                reads[0] += 1
            except OSError as exc:
                misses.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        time.sleep(0.02)
        report = gitops.rollback(settings)
        time.sleep(0.02)
    finally:
        stop.set()
        thread.join()
    assert misses == [] and reads[0] > 0
    assert report["success"] is True
    assert report["release"] == synced["release"] and report["previous_release"] == second["release"]
    assert report["comment"] == (
        f"Rolled back from {second['release']} to {synced['release']}. "
        "The next sync (push or schedule) will move forward again; run shaker.suspend to keep it."
    )
    assert served_release(root) == synced["release"]
    assert served_formulas(root) == pins_of(forge, EXAMPLE_PINS)
    assert gitops.history(settings)["current"] == synced["release"]

    # The next sync moves forward again to what the project branch says.
    forward = gitops.sync(settings)
    assert forward["published"] is True and forward["release"] == second["release"]
    assert served_formulas(root)[FIREWALL]["ref"] == "v1.0.0"

    # Suspended, a rollback says it stays; an unknown release is refused by name.
    gitops.suspend(settings, "hold")
    held = gitops.rollback(settings)
    assert held["comment"].endswith("Syncing is suspended, so it stays.")
    with pytest.raises(LayoutError, match="There is no kept release 0000000000000000 to roll back to; kept releases: "):
        gitops.rollback(settings, release="0000000000000000")


def test_reconcile_without_project_repository_touches_no_network(root, forge, workdir):
    (root / "metadata.yml").write_text(PROJECT_METADATA)
    (root / "formula-requirements.txt").write_text(lock_text(forge, EXAMPLE_PINS))
    settings = make_settings(root, forge)
    first = gitops.reconcile(settings)
    assert first["success"] is True and first["published"] is True and first["command"] == "reconcile", first
    release = served_release(root)

    forge.root.rename(workdir / "forge-gone")  # every formula source is now unreachable
    report = gitops.reconcile(settings)
    assert report["success"] is True, report
    assert report["command"] == "reconcile" and report["published"] is False and report["release"] == release
    assert report["project_commit"] is None and report["warnings"] == []
    assert served_release(root) == release
    last = last_deploy(root)
    assert last["trigger"] == "schedule" and last["success"] is True and last["project_commit"] is None

    # The same reconcile that does look at the sources fails: the forge really is gone.
    checked = gitops.reconcile(make_settings(root, forge, remote_check=True))
    assert checked["success"] is False
    assert "Fetching example_org/" in checked["message"] and "failed" in checked["message"]
    assert served_release(root) == release


def test_broken_formula_commit_keeps_the_previous_release(root, forge, project_repo, recorder, synced):
    settings = make_settings(root, forge, project_repo, notify={"urls": [recorder.url + "/alerts"]})
    before = served_formulas(root)
    release = served_release(root)
    files_before = sorted(os.listdir(root / "vendor" / "_root" / "firewall"))
    broken = project_repo.publish(lock_text(forge, EXAMPLE_PINS, commits={FIREWALL: MISSING_COMMIT}))

    report = gitops.sync(settings, trigger="webhook", delivery="broken-1")
    assert report["success"] is False
    expected = f"example_org/firewall-formula ({forge.url(FIREWALL)}) has no commit {MISSING_COMMIT}; the lock names a commit the source no longer has."
    assert report["message"] == expected
    assert report["error"] == "git" and report["retcode"] != 0
    assert served_release(root) == release
    assert served_formulas(root) == before
    assert sorted(os.listdir(root / "vendor" / "_root" / "firewall")) == files_before
    record = last_deploy(root)
    assert record["success"] is False and record["published"] is False
    assert record["project_commit"] == broken and record["trigger"] == "webhook:broken-1"
    assert record["message"] == expected
    (alert,) = recorder.wait_for(1)
    assert alert.json()["text"] == f"salt-shaker install_pinned failed: {expected}"
    assert alert.json()["report"]["success"] is False

    # Fixing the project moves on from the last good release.
    fixed = project_repo.publish(lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}))
    report = gitops.sync(settings)
    assert report["success"] is True and report["previous_release"] == release and report["project_commit"] == fixed
    assert served_formulas(root)[FIREWALL]["ref"] == "v1.0.0"


def test_twenty_concurrent_syncs_coalesce(settings, synced, root, forge, project_repo):
    tags = ["v1.0.0", "v1.5.0"]
    commits = project_repo.prepare(lock_text(forge, {**EXAMPLE_PINS, FIREWALL: tags[i % 2]}) for i in range(20))
    newest, newest_tag = commits[-1], tags[19 % 2]
    start = threading.Barrier(20)
    push_lock = threading.Lock()
    pushed: list[str] = []
    reports: list[dict] = [None] * 20  # type: ignore[list-item]
    errors: list[BaseException] = []
    started = time.time()

    def worker(index: int) -> None:
        try:
            start.wait()
            with push_lock:  # pushes land one after another, in order: main only moves forward
                commit = commits[len(pushed)]
                project_repo.advance(commit)
                pushed.append(commit)
            reports[index] = gitops.sync(settings, trigger="webhook", delivery=f"burst-{index}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert pushed == commits and project_repo.head() == newest
    assert all(r["success"] is True for r in reports), reports
    coalesced = [r for r in reports if r.get("coalesced")]
    ran = [r for r in reports if not r.get("coalesced")]
    print(f"coalesced {len(coalesced)}, ran {len(ran)}, runs {[r['runs'] for r in ran]}")
    assert coalesced, "20 syncs at once and none coalesced"
    assert all(r["comment"] == "A sync is running; it will run once more for this trigger." for r in coalesced), [r for r in coalesced if r.get("comment") != "A sync is running; it will run once more for this trigger."]
    deploys = [d for d in records.read_deploys(root / "vendor") if d["started"] >= started]
    assert overlaps(deploys) == []
    assert len(deploys) == sum(r["runs"] for r in ran) < 20
    assert all(d["success"] for d in deploys)
    # The last sync served the newest commit: its project tree and its lock.
    assert deploys[-1]["project_commit"] == newest
    assert last_deploy(root)["project_commit"] == newest
    assert served_project(root) == newest
    assert served_formulas(root)[FIREWALL] == {"ref": newest_tag, "commit": forge.commit_of(FIREWALL, newest_tag)}
    assert not (root / "vendor" / coalesce.PENDING).exists()


def test_coalescing_under_stress_never_fails_overlaps_or_loses_a_trigger(workdir):
    """2400 triggers from 8 threads on the real lock and mark files, with a short run each."""
    vendor = workdir / "vendor"
    quiet = Settings.from_mapping({"root_dir": str(workdir)})  # no metrics file to write for a trigger left to the run
    active, starts, calls, overlapped, errors = [0], [], [], [], []
    guard = threading.Lock()

    def run():
        with guard:
            active[0] += 1
            overlapped.append(active[0] > 1)
            starts.append(time.monotonic())
        time.sleep(0.0005)
        with guard:
            active[0] -= 1
        return {"command": "sync", "success": True}

    def worker():
        for _ in range(300):
            calls.append(time.monotonic())
            try:
                report = gitops._coalesced(quiet, vendor, run)
                assert report["success"] is True and (report.get("coalesced") or report["runs"] >= 1), report
            except BaseException as exc:  # noqa: BLE001 - every failure is reported below
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not any(overlapped)
    assert 0 < len(starts) < len(calls) == 2400
    assert max(starts) >= max(calls), "the last trigger was not followed by a run"
    assert not (vendor / coalesce.PENDING).exists()


def _formula_push(forge, name, tag):
    body = github_payload(forge.url(name), ref=f"refs/tags/{tag}")
    return {"headers": github_headers(SECRET, body, delivery=f"tag-{tag}"), "body": body}


def test_formula_tag_push_reports_outdated_without_auto_update(settings, synced, root, forge):
    release = served_release(root)
    forge.release(FIREWALL, "v1.6.0", {"firewall/init.sls": "shaker_example_firewall:\n  test.nop: []\n"})
    report = gitops.on_push(settings, {"secret": SECRET}, _formula_push(forge, FIREWALL, "v1.6.0"))
    assert report["success"] is True and report["ignored"] is True
    assert report["outdated"] == [FIREWALL]
    assert report["comment"] == f"Ignored: {FIREWALL} has a new tag v1.6.0; it stays at v1.5.0 (shaker:auto_update is off)."
    assert served_release(root) == release
    assert len(records.read_deploys(root / "vendor")) == 1


def test_formula_tag_push_with_auto_update_updates_only_that_formula(root, forge, project_repo, synced):
    settings = make_settings(root, forge, project_repo, auto_update=True)
    new_commit = forge.release(FIREWALL, "v1.6.0", {"firewall/init.sls": "shaker_example_firewall:\n  test.nop: []\n"})
    # Newer tags elsewhere stay where they are: only the pushed formula moves.
    forge.release(USERS, "v1.3.0", {"users/extra.sls": "x: 1\n"})
    report = gitops.on_push(settings, {"secret": SECRET}, _formula_push(forge, FIREWALL, "v1.6.0"))
    assert report["success"] is True, report
    assert report["command"] == "update" and report["published"] is True
    assert report["push"] == {"provider": "github", "ref": "refs/tags/v1.6.0", "delivery": "tag-v1.6.0"}
    assert report["changes"] == {FIREWALL: {"kind": "moved", "old": {"ref": "v1.5.0", "commit": forge.commit_of(FIREWALL, "v1.5.0")},
                                            "new": {"ref": "v1.6.0", "commit": new_commit}}}
    served = served_formulas(root)
    assert served[FIREWALL] == {"ref": "v1.6.0", "commit": new_commit}
    assert {name: served[name] for name in (COMMON, NGINX, USERS)} == {name: pin for name, pin in pins_of(forge, EXAMPLE_PINS).items() if name != FIREWALL}
    assert last_deploy(root)["trigger"] == "webhook:tag-v1.6.0"


def test_pushes_that_name_nothing_tracked_are_ignored(settings, synced, root, forge):
    # A branch commit to a formula pinned by tag changes nothing.
    body = github_payload(forge.url(FIREWALL), ref="refs/heads/main")
    report = gitops.on_push(settings, {"secret": SECRET}, {"headers": github_headers(SECRET, body), "body": body})
    assert report["ignored"] is True
    assert report["comment"] == f"Ignored: {FIREWALL} is pinned to tag v1.5.0; this push does not change it."
    # A repository neither the project nor a locked formula.
    body = github_payload("https://git.example.invalid/someone/else.git")
    report = gitops.on_push(settings, {"secret": SECRET}, {"headers": github_headers(SECRET, body), "body": body})
    assert report["comment"] == "Ignored: the repository is neither the project repository nor a locked formula."
    assert len(deploy_log(root)) == 1


def test_status_reports_drift_until_synced(settings, synced, root, forge, project_repo):
    status = gitops.status(settings)
    assert status["in_sync"] is True
    assert status["project"] == {"branch": "main", "head": project_repo.initial, "deployed": project_repo.initial, "signer": None, "in_sync": True}
    assert status["deploy"]["project_commit"] == project_repo.initial and status["suspended"] is None

    new = project_repo.publish(lock_text(forge, {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}))
    drift = gitops.status(settings)
    assert drift["in_sync"] is False
    assert drift["project"] == {"branch": "main", "head": new, "deployed": project_repo.initial, "signer": None, "in_sync": False}

    gitops.sync(settings)
    assert gitops.status(settings)["in_sync"] is True

    # A project commit that fails to deploy is not what is deployed.
    broken = project_repo.publish(lock_text(forge, EXAMPLE_PINS, commits={FIREWALL: MISSING_COMMIT}))
    assert gitops.sync(settings)["success"] is False
    failed = gitops.status(settings)
    assert failed["in_sync"] is False
    assert failed["project"] == {"branch": "main", "head": broken, "deployed": new, "signer": None, "in_sync": False}


def test_unreachable_project_repository_keeps_serving_and_is_reported(root, forge, project_repo, recorder, synced, workdir):
    settings = make_settings(root, forge, project_repo, notify={"urls": [recorder.url + "/alerts"]})
    release = served_release(root)
    project_repo.bare.rename(workdir / "project-gone.git")
    report = gitops.sync(settings, trigger="webhook", delivery="gone-1")
    assert report["success"] is False
    assert report["message"].startswith(f"Fetching ops/project ({project_repo.url}) failed: ")
    assert "check that the source exists and is reachable" in report["message"]
    assert served_release(root) == release and served_project(root) == project_repo.initial
    record = last_deploy(root)
    assert record["success"] is False and record["trigger"] == "webhook:gone-1" and record["message"] == report["message"]
    (alert,) = recorder.wait_for(1)
    assert alert.json()["text"].endswith(report["message"])
    assert alert.json()["report"]["success"] is False
