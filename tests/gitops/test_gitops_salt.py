"""GitOps on real daemons: a signed POST to the webhook engine, the reactor, ``shaker.webhook``, a published release.

One master and one minion for the module. The master runs the webhook engine on a
free port, maps ``salt/engines/hook/shaker/push`` and ``shaker/install/complete`` to
the shipped examples/reactor/*.sls (copied into the master's reactor dir), and has a
``shaker:`` mapping with the project repository (file://), the webhook secret, and
notifications plus a GitHub-shaped commit status pointed at a recording HTTP server.
Tests run in file order on that one master; each one pushes its own project commit.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import time
import uuid

import pytest
import requests
from gitopskit import (
    EXAMPLE_PINS,
    EXAMPLES,
    FIREWALL,
    MISSING_COMMIT,
    PROJECT_METADATA,
    ExampleForge,
    ProjectRepo,
    deploy_log,
    github_headers,
    github_payload,
    gitlab_headers,
    gitlab_payload,
    last_deploy,
    lock_text,
    overlaps,
    served_formulas,
    served_project,
    served_release,
    wait_until,
)
from helpers.loopback import free_port
from helpers.recorder import RecordingServer
from helpers.saltout import json_documents

pytestmark = pytest.mark.salt

MASTER_ID = "gitops-master"
MINION_ID = "gitops-minion"
SECRET = "engine-webhook-secret-7f3a"
TOKEN = "ghp_STATUS_TOKEN_do_not_leak_91c2"
WEBHOOK_FUN = "runner.shaker.webhook"
BAD_GITHUB = "The x-hub-signature-256 signature does not match the body; check the webhook secret on the git host and in shaker:webhook:secret."
NO_SIGNATURE = "The request has no signature (X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token or the generic header); it was ignored."


# -- the daemons --


class Site:
    """Everything the module's master works with."""

    def __init__(self, base, forge_template):
        self.base = base
        self.forge = ExampleForge(shutil.copytree(forge_template, base / "forge", symlinks=True))
        self.project = ProjectRepo(base / "git", PROJECT_METADATA, lock_text(self.forge, EXAMPLE_PINS))
        self.root = base / "p"
        self.root.mkdir()
        self.reactor = base / "reactor"
        self.reactor.mkdir()
        for name in ("shaker_push_engine.sls", "shaker_complete.sls"):
            shutil.copy(EXAMPLES / "reactor" / name, self.reactor / name)
        self.port = free_port()
        self.recorder = RecordingServer().start()

    @property
    def hook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/shaker/push"

    def lock(self, firewall: str) -> str:
        return lock_text(self.forge, {**EXAMPLE_PINS, FIREWALL: firewall})

    def post_github(self, commit: str | None = None, secret: str | None = SECRET, delivery: str | None = None) -> tuple[str, requests.Response]:
        """POST a GitHub push for the project repository to the webhook engine; return (delivery id, response)."""
        body = github_payload(self.project.url, after=commit)
        delivery = delivery or str(uuid.uuid4())
        headers = github_headers(secret or "", body, delivery=delivery)
        if secret is None:
            headers.pop("X-Hub-Signature-256")
        return delivery, requests.post(self.hook_url, data=body, headers=headers, timeout=10)

    def wait_deployed(self, commit: str, timeout: float = 30.0, interval: float = 0.005) -> dict:
        """Poll vendor/deploy.json until its project_commit is ``commit``; return the record."""
        return wait_until(lambda: (d := last_deploy(self.root)) and d.get("project_commit") == commit and d,
                          timeout=timeout, interval=interval, what=f"a deploy of project commit {commit[:12]}")

    def lock_served_by_project(self) -> str:
        return (self.root / "vendor" / "_project" / "formula-requirements.txt").read_text()


@pytest.fixture(scope="module")
def site(gitops_base_dir, forge_template):
    base = gitops_base_dir / "s"
    base.mkdir()
    site = Site(base, forge_template)
    yield site
    site.recorder.stop()


@pytest.fixture(scope="module")
def gitops_master(salt_factories, site):
    overrides = {
        "engines": [{"webhook": {"address": "127.0.0.1", "port": site.port}}],
        "reactor": [
            {"salt/engines/hook/shaker/push": [str(site.reactor / "shaker_push_engine.sls")]},
            {"shaker/install/complete": [str(site.reactor / "shaker_complete.sls")]},
        ],
        "shaker": {
            "root_dir": str(site.root),
            "source_template": site.forge.template,
            "project": {"source": site.project.url, "branch": "main"},
            "webhook": {"secret": SECRET},
            "notify": {
                "urls": [{"url": site.recorder.url + "/notify", "format": "json"}],
                "repeat_after": 3600,
                "commit_status": {"provider": "github", "api_url": site.recorder.url + "/api", "repository": "ops/project", "token": TOKEN},
            },
        },
        "file_roots": {"base": [str(site.root / "vendor" / "_root")]},
        "file_ignore_regex": [r"/\.git($|/)"],
    }
    factory = salt_factories.salt_master_daemon(MASTER_ID, overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def gitops_minion(gitops_master):
    # Retry the master quickly: the default reconnect delay is a random 5-15 s.
    overrides = {"recon_default": 200, "recon_max": 1000, "recon_randomize": False, "acceptance_wait_time": 0.5, "acceptance_wait_time_max": 1}
    factory = gitops_master.salt_minion_daemon(MINION_ID, overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def salt_run(gitops_master):
    return gitops_master.salt_run_cli(timeout=120)


@pytest.fixture(scope="module")
def first_deploy(site, gitops_master, gitops_minion):
    """Signed pushes until the reactor acts (it starts ~3 s after the engine answers); the first deploy."""
    deadline = time.monotonic() + 60
    while True:
        try:
            response = site.post_github(site.project.initial)[1]
            assert response.status_code == 200
        except requests.ConnectionError:
            time.sleep(0.2)  # the engine is not listening yet
            continue
        try:
            record = site.wait_deployed(site.project.initial, timeout=1.0)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    # Let any other throwaway push still in the reactor finish, so that it cannot pick up
    # the next test's commit: no new deploy record and no pending sync for one second.
    quiet_since, seen = time.monotonic(), len(deploy_log(site.root))
    while time.monotonic() - quiet_since < 1.0:
        time.sleep(0.05)
        now = len(deploy_log(site.root))
        if now != seen or (site.root / "vendor" / ".sync-pending").exists():
            quiet_since, seen = time.monotonic(), now
    return record


def _delivery_of(data: dict) -> str | None:
    """The delivery id in the hook a ``runner.shaker.webhook`` job was called with."""
    try:
        headers = data["fun_args"][0]["hook"]["headers"]
    except (KeyError, IndexError, TypeError):
        return None
    wanted = {"x-github-delivery", "x-gitlab-event-uuid"}
    return next((value for name, value in headers.items() if name.lower() in wanted), None)


def webhook_returns(event_listener, deliveries, after: float, timeout: float = 30.0) -> dict[str, dict]:
    """Wait for the ``salt/run/<jid>/ret`` event of the shaker.webhook job of every delivery; ``{delivery: event data}``."""
    wanted = set(deliveries)
    deadline = time.monotonic() + timeout
    while True:
        found = {}
        for event in event_listener.get_events([(MASTER_ID, "salt/run/*/ret")], after_time=after):
            if event.data.get("fun") == WEBHOOK_FUN and _delivery_of(event.data) in wanted:
                found[_delivery_of(event.data)] = event.data
        if len(found) == len(wanted):
            return found
        assert time.monotonic() < deadline, f"no runner return for {sorted(wanted - set(found))} on the master bus in {timeout} s"
        time.sleep(0.05)


def bus_events(event_listener, tag: str, after: float, timeout: float = 30.0, predicate=lambda data: True) -> list[dict]:
    """Wait for at least one event ``tag`` on the master bus after ``after`` that ``predicate`` accepts; return their data."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e.data for e in event_listener.get_events([(MASTER_ID, tag)], after_time=after) if predicate(e.data)]
        if found:
            return found
        assert time.monotonic() < deadline, f"no {tag} event on the master bus in {timeout} s"
        time.sleep(0.05)


def runner_return(result) -> dict:
    documents = json_documents(result.stdout)
    assert documents, f"salt-run printed no JSON: stdout={result.stdout!r} stderr={result.stderr[-2000:]!r}"
    return documents[-1]


def notifications_for(site, trigger: str, count: int = 1) -> list:
    """The JSON notifications whose report names ``trigger`` (waits for ``count`` of them)."""
    def found():
        matches = [r for r in site.recorder.snapshot() if r.path == "/notify" and r.json()["report"].get("trigger") == trigger]
        return matches if len(matches) >= count else None

    return wait_until(found, timeout=30, interval=0.02, what=f"a notification for {trigger}")


def statuses_for(site, commit: str) -> list:
    path = f"/api/repos/ops/project/statuses/{commit}"
    return wait_until(lambda: [r for r in site.recorder.snapshot() if r.path == path], timeout=30, interval=0.02, what=f"a commit status for {commit[:12]}")


# -- the tests, in order, on one master --


def test_first_push_after_start_is_deployed_and_minions_synced(site, first_deploy, gitops_minion):
    assert first_deploy["success"] is True and first_deploy["trigger"].startswith("webhook:")
    records = deploy_log(site.root)
    assert records[0]["published"] is True and records[0]["project_commit"] == site.project.initial
    # The master created vendor/_root as an empty directory for its file_roots; it is now the link.
    assert os.path.islink(site.root / "vendor" / "_root")
    assert served_project(site.root) == site.project.initial
    assert served_formulas(site.root) == {name: {"ref": tag, "commit": site.forge.commit_of(name, tag)} for name, tag in EXAMPLE_PINS.items()}
    # shaker/install/complete said module directories changed; the shipped reactor ran
    # saltutil.sync_all on the minion, which now has nginx-formula's _modules/ and common's _states/.
    extmods = gitops_minion.config["extension_modules"]
    wait_until(lambda: os.path.exists(os.path.join(extmods, "modules", "nginx_helper.py")) and os.path.exists(os.path.join(extmods, "states", "common_marker.py")),
               timeout=60, interval=0.1, what="the minion's sync_all of the published modules")


def test_signed_github_push_serves_the_new_release(site, first_deploy, event_listener):
    previous = served_release(site.root)
    commit = site.project.publish(site.lock("v1.0.0"))
    started = time.time()
    delivery, response = site.post_github(commit)
    assert response.status_code == 200
    record = site.wait_deployed(commit)
    assert record["success"] is True and record["published"] is True
    assert record["trigger"] == f"webhook:{delivery}"
    assert served_project(site.root) == commit
    assert served_release(site.root) == record["release"] != previous
    assert served_formulas(site.root)[FIREWALL] == {"ref": "v1.0.0", "commit": site.forge.commit_of(FIREWALL, "v1.0.0")}
    assert f"{FIREWALL}==v1.0.0 " in site.lock_served_by_project()

    ret = webhook_returns(event_listener, [delivery], after=started)[delivery]
    assert ret["success"] is True
    result = ret["return"]
    assert result["success"] is True and result["published"] is True and result["project_commit"] == commit
    assert result["release"] == record["release"] and result["previous_release"] == previous
    assert result["push"] == {"provider": "github", "ref": "refs/heads/main", "delivery": delivery}
    assert result["notifications"] == [f"notified {site.recorder.url}/notify", f"notified {site.recorder.url}/api/repos/ops/project/statuses/{commit}"]
    complete = bus_events(event_listener, "shaker/install/complete", started, predicate=lambda d: d.get("release") == record["release"])
    assert complete[0]["previous_release"] == previous
    assert complete[0]["changes"] == {FIREWALL: {"kind": "moved", "old": {"ref": "v1.5.0", "commit": site.forge.commit_of(FIREWALL, "v1.5.0")},
                                                 "new": {"ref": "v1.0.0", "commit": site.forge.commit_of(FIREWALL, "v1.0.0")}}}
    assert complete[0]["module_dirs_changed"] is False

    (note,) = notifications_for(site, f"webhook:{delivery}")
    assert note.json()["text"] == f"salt-shaker published release {record['release']}: {FIREWALL} v1.5.0 -> v1.0.0"
    assert note.json()["report"]["success"] is True and note.json()["report"]["previous_release"] == previous
    (status,) = statuses_for(site, commit)
    assert status.headers["authorization"] == f"Bearer {TOKEN}"
    assert status.json() == {"state": "success", "context": "salt-shaker", "description": note.json()["text"]}


def test_gitlab_push_hook_serves_the_new_release(site, first_deploy, event_listener):
    commit = site.project.publish(site.lock("v1.5.0"))
    started = time.time()
    headers = gitlab_headers(SECRET)
    response = requests.post(site.hook_url, data=gitlab_payload(site.project.url, after=commit), headers=headers, timeout=10)
    assert response.status_code == 200
    record = site.wait_deployed(commit)
    assert record["success"] is True and record["trigger"] == f"webhook:{headers['X-Gitlab-Event-UUID']}"
    assert served_formulas(site.root)[FIREWALL]["ref"] == "v1.5.0"
    ret = webhook_returns(event_listener, [headers["X-Gitlab-Event-UUID"]], after=started)[headers["X-Gitlab-Event-UUID"]]
    assert ret["return"]["push"]["provider"] == "gitlab"


@pytest.mark.parametrize(
    "secret, message",
    [("not-the-secret", BAD_GITHUB), (None, NO_SIGNATURE)],
    ids=["wrong-signature", "missing-signature"],
)
def test_push_without_a_valid_signature_changes_nothing(site, first_deploy, event_listener, secret, message):
    # main moves, so a push that were accepted would deploy something.
    site.project.publish(site.lock("v1.0.0"))
    root_target = os.readlink(site.root / "vendor" / "_root")
    project_target = os.readlink(site.root / "vendor" / "_project")
    lock = site.lock_served_by_project()
    deploys = len(deploy_log(site.root))
    started = time.time()
    delivery, response = site.post_github(secret=secret)
    assert response.status_code == 200  # the engine answers 200 to everyone
    ret = webhook_returns(event_listener, [delivery], after=started)[delivery]
    assert ret["return"] == {"command": "webhook", "success": False, "retcode": 2, "error": "webhook-rejected", "message": message}
    assert SECRET not in json.dumps(ret, default=repr)
    failed = bus_events(event_listener, "shaker/install/failed", started, predicate=lambda d: d.get("message") == message)
    assert failed[0]["command"] == "webhook"
    time.sleep(0.5)  # nothing else was started for it either
    assert os.readlink(site.root / "vendor" / "_root") == root_target
    assert os.readlink(site.root / "vendor" / "_project") == project_target
    assert site.lock_served_by_project() == lock
    assert len(deploy_log(site.root)) == deploys


def test_twenty_pushes_within_a_second_publish_exactly_the_newest(site, first_deploy, event_listener):
    tags = ("v1.0.0", "v1.5.0")
    commits = site.project.prepare(site.lock(tags[i % 2]) for i in range(20))
    newest, newest_tag = commits[-1], tags[19 % 2]
    started = time.time()
    deliveries = []
    with requests.Session() as http:
        for commit in commits:
            site.project.advance(commit)  # the push lands, then the git host sends its webhook
            body = github_payload(site.project.url, after=commit)
            headers = github_headers(SECRET, body)
            assert http.post(site.hook_url, data=body, headers=headers, timeout=10).status_code == 200
            deliveries.append(headers["X-GitHub-Delivery"])
    sent_in = time.time() - started
    assert sent_in < 1.0, f"the 20 pushes took {sent_in:.2f} s to send"

    returns = webhook_returns(event_listener, deliveries, after=started, timeout=60)
    assert all(data["return"]["success"] is True for data in returns.values()), returns
    record = site.wait_deployed(newest)
    time.sleep(0.3)
    assert last_deploy(site.root)["project_commit"] == newest  # and nothing after it
    deploys = [d for d in deploy_log(site.root) if d["started"] >= started]
    assert overlaps(deploys) == []
    assert all(d["success"] for d in deploys)
    order = [commits.index(d["project_commit"]) for d in sorted(deploys, key=lambda d: d["started"])]
    assert order == sorted(order), f"a sync went back to an older project commit: {order}"
    assert order[-1] == 19
    assert served_project(site.root) == newest
    assert served_release(site.root) == record["release"]
    assert served_formulas(site.root)[FIREWALL] == {"ref": newest_tag, "commit": site.forge.commit_of(FIREWALL, newest_tag)}
    coalesced = sum(1 for data in returns.values() if data["return"].get("coalesced"))
    runs = sum(data["return"].get("runs", 0) for data in returns.values())
    assert runs == len(deploys)
    print(f"\n20 pushes sent in {sent_in:.2f} s: {len(deploys)} syncs ran, {coalesced} triggers coalesced")


def test_push_pinning_a_broken_formula_keeps_the_last_good_release(site, first_deploy, event_listener):
    good_release = served_release(site.root)
    good_formulas = served_formulas(site.root)
    broken = site.project.publish(lock_text(site.forge, EXAMPLE_PINS, commits={FIREWALL: MISSING_COMMIT}))
    expected = f"{FIREWALL} ({site.forge.url(FIREWALL)}) has no commit {MISSING_COMMIT}; the lock names a commit the source no longer has."
    started = time.time()
    delivery, response = site.post_github(broken)
    assert response.status_code == 200
    record = site.wait_deployed(broken)
    assert record["success"] is False and record["published"] is False and record["message"] == expected
    assert served_release(site.root) == good_release
    assert served_formulas(site.root) == good_formulas

    ret = webhook_returns(event_listener, [delivery], after=started)[delivery]
    assert ret["return"]["success"] is False and ret["return"]["message"] == expected and ret["return"]["retcode"] != 0
    bus_events(event_listener, "shaker/install/failed", started, predicate=lambda d: d.get("message") == expected)
    (note,) = notifications_for(site, f"webhook:{delivery}")
    assert note.json()["text"] == f"salt-shaker install_pinned failed: {expected}"
    assert note.json()["report"]["success"] is False
    (status,) = statuses_for(site, broken)
    assert status.json()["state"] == "failure" and status.headers["authorization"] == f"Bearer {TOKEN}"

    # The next good commit moves on from the last good release.
    fixed = site.project.publish(site.lock("v1.0.0"))
    site.post_github(fixed)
    record = site.wait_deployed(fixed)
    assert record["success"] is True and served_formulas(site.root)[FIREWALL]["ref"] == "v1.0.0"


def test_the_status_token_travels_only_in_the_authorization_header(site, first_deploy, event_listener, gitops_master):
    requests_seen = site.recorder.snapshot()
    statuses = [r for r in requests_seen if r.path.startswith("/api/")]
    notes = [r for r in requests_seen if r.path == "/notify"]
    assert len(statuses) >= 4 and len(notes) >= 4
    for request in statuses:
        assert request.path.startswith("/api/repos/ops/project/statuses/")
        assert [name for name, value in request.headers.items() if TOKEN in value] == ["authorization"]
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
    for request in requests_seen:
        assert TOKEN not in request.body.decode() and TOKEN not in request.path
        assert SECRET not in request.body.decode()
    for request in notes:
        assert not any(TOKEN in value for value in request.headers.values())
    # Nor in anything salt-shaker wrote, nor on the event bus.
    vendor = site.root / "vendor"
    for path in [vendor / "deploy.json", vendor / "deploys.jsonl", *sorted((vendor / "releases").glob("*.json"))]:
        text = path.read_text()
        assert TOKEN not in text and SECRET not in text, path
    events = event_listener.get_events([(MASTER_ID, "*")], after_time=time.time() - 600)
    assert events
    assert not [e.tag for e in events if TOKEN in json.dumps(e.data, default=repr)]


def test_salt_run_rollback_then_reconcile(site, first_deploy, salt_run):
    current = served_release(site.root)
    history = runner_return(salt_run.run("shaker.history"))
    assert history["success"] is True and history["current"] == current
    releases = [r["release"] for r in history["releases"]]
    assert releases[0] == current and len(releases) >= 2
    previous = releases[1]

    result = salt_run.run("shaker.rollback")
    report = runner_return(result)
    assert result.returncode == 0, result
    assert report["success"] is True and report["release"] == previous and report["previous_release"] == current
    assert report["comment"] == (
        f"Rolled back from {current} to {previous}. The next sync (push or schedule) will move forward again; run shaker.suspend to keep it."
    )
    assert served_release(site.root) == previous

    result = salt_run.run("shaker.reconcile")
    report = runner_return(result)
    assert result.returncode == 0, result
    assert report["success"] is True and report["command"] == "reconcile"
    assert report["published"] is True and report["previous_release"] == previous and report["release"] == current
    assert report["project_commit"] == site.project.head()
    assert served_release(site.root) == current
    assert last_deploy(site.root)["trigger"] == "schedule"


def test_median_time_from_signed_post_to_serving(site, first_deploy, record_property):
    tags = ("v1.0.0", "v1.5.0")
    timings = []
    for i in range(20):
        commit = site.project.publish(site.lock(tags[i % 2]))
        started = time.perf_counter()
        site.post_github(commit)
        record = site.wait_deployed(commit, interval=0.002)
        timings.append(time.perf_counter() - started)
        assert record["success"] is True
        assert served_formulas(site.root)[FIREWALL]["ref"] == tags[i % 2]
    median = statistics.median(timings)
    record_property("median_post_to_serving_seconds", round(median, 4))
    print(f"\nsigned POST -> new release served: median {median * 1000:.0f} ms over 20 pushes "
          f"(min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms)")
    assert median < 5.0
