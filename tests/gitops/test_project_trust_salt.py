"""A signed project repository on a real master: a push of a commit signed by an untrusted key never deploys.

One master runs the webhook engine and the shipped push reactor; its ``shaker:``
config trusts one SSH key (bob) for the project repository. A commit signed by
bob deploys through a signed GitHub POST; then a commit signed by a GnuPG key
nobody trusts (mallory) is pushed and POSTed the same way: the sync fails, the
master fires ``shaker/install/failed`` naming it, and the release that served
keeps serving.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid

import pytest
import requests
from gitopskit import (
    EXAMPLE_PINS,
    EXAMPLES,
    FIREWALL,
    PROJECT_METADATA,
    ExampleForge,
    ProjectRepo,
    github_headers,
    github_payload,
    last_deploy,
    lock_text,
    served_formulas,
    served_project,
    served_release,
    wait_until,
)
from helpers.loopback import free_port
from helpers.recorder import RecordingServer
from helpers.signing import signing_config

pytestmark = pytest.mark.salt

MASTER_ID = "trust-master"
SECRET = "trust-webhook-secret-2b9e"


@pytest.fixture(scope="module")
def site(gitops_base_dir, forge_template, bob):
    base = gitops_base_dir / "trust"
    base.mkdir()
    forge = ExampleForge(shutil.copytree(forge_template, base / "forge", symlinks=True))
    project = ProjectRepo(base / "git", PROJECT_METADATA, lock_text(forge, EXAMPLE_PINS))
    (base / "allowed_signers").write_text(bob.allowed_signers_line())
    (base / "reactor").mkdir()
    shutil.copy(EXAMPLES / "reactor" / "shaker_push_engine.sls", base / "reactor")
    with RecordingServer() as recorder:
        yield {"base": base, "forge": forge, "project": project, "root": base / "p", "port": free_port(), "recorder": recorder}


@pytest.fixture(scope="module")
def master(salt_factories, site):
    overrides = {
        "engines": [{"webhook": {"address": "127.0.0.1", "port": site["port"]}}],
        "reactor": [{"salt/engines/hook/shaker/push": [str(site["base"] / "reactor" / "shaker_push_engine.sls")]}],
        "shaker": {
            "root_dir": str(site["root"]),
            "source_template": site["forge"].template,
            "project": {"source": site["project"].url, "branch": "main"},
            "webhook": {"secret": SECRET},
            "notify": {"urls": [{"url": site["recorder"].url + "/notify", "format": "json"}]},
            "trust": {site["project"].url: {"ssh_allowed_signers": str(site["base"] / "allowed_signers")}},
        },
        "file_roots": {"base": [str(site["root"] / "vendor" / "_root")]},
    }
    factory = salt_factories.salt_master_daemon(MASTER_ID, overrides=overrides)
    with factory.started():
        yield factory


def publish(site, lock: str, key) -> str:
    project = site["project"]
    project.signing = signing_config(key)
    try:
        return project.publish(lock)
    finally:
        project.signing = []


def post(site, commit: str) -> None:
    body = github_payload(site["project"].url, after=commit)
    response = requests.post(f"http://127.0.0.1:{site['port']}/shaker/push", data=body, timeout=10,
                             headers=github_headers(SECRET, body, delivery=str(uuid.uuid4())))
    assert response.status_code == 200


def deployed(site, commit: str, timeout: float = 30.0) -> dict:
    return wait_until(lambda: (d := last_deploy(site["root"])) and d.get("project_commit") == commit and d,
                      timeout=timeout, interval=0.02, what=f"a deploy record of project commit {commit[:12]}")


def notified(site, text: str) -> list:
    """The notifications whose text starts with ``text`` (a publish goes on with the formulas it moved)."""
    return wait_until(lambda: [r for r in site["recorder"].snapshot() if r.path == "/notify" and r.json()["text"].startswith(text)],
                      timeout=30, interval=0.02, what=f"the notification {text!r}")


def first_signed_deploy(site, commit: str) -> dict:
    """POST until the reactor acts (it starts a few seconds after the engine answers)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            post(site, commit)
            return deployed(site, commit, timeout=1.0)
        except (requests.ConnectionError, AssertionError):
            assert time.monotonic() < deadline, "the master never deployed the first signed push"
            time.sleep(0.2)


def test_a_push_signed_by_an_untrusted_key_is_never_deployed(site, master, bob, mallory, event_listener):
    # mallory signs with GnuPG, and only an SSH key (bob's) is trusted
    trusted = publish(site, lock_text(site["forge"], EXAMPLE_PINS), bob)
    record = first_signed_deploy(site, trusted)
    assert record["success"] is True and record["project_signer"] == f"ssh:{bob.fingerprint}"
    release, formulas = served_release(site["root"]), served_formulas(site["root"])
    assert notified(site, f"salt-shaker published release {release} (project commit signed by ssh:{bob.fingerprint}): ")

    evil = publish(site, lock_text(site["forge"], {**EXAMPLE_PINS, FIREWALL: "v1.0.0"}), mallory)
    started = time.time()
    post(site, evil)
    record = deployed(site, evil)
    expected = (f"The project repository's branch main (head {evil[:12]}) is refused: it is an OpenPGP signature, and no gpg_keys are "
                f"trusted for this source; it was not deployed: push a commit signed by a key trusted under "
                f"'trust' {site['project'].url}.")
    assert record["success"] is False and record["published"] is False and record["message"] == expected
    failed = wait_until(lambda: [e.data for e in event_listener.get_events([(MASTER_ID, "shaker/install/failed")], after_time=started)
                                 if e.data.get("message") == expected], timeout=30, interval=0.05, what="shaker/install/failed")
    assert failed[0]["retcode"] == 8 and failed[0]["error"] == "trust"
    assert notified(site, f"salt-shaker sync failed: {expected}")
    assert served_release(site["root"]) == release and served_formulas(site["root"]) == formulas
    assert served_project(site["root"]) == trusted
    assert not os.path.exists(site["root"] / "vendor" / "projects" / evil)  # never exported
