"""``salt-run shaker.*`` on a running master, and what its minion then gets from the published root.

The tests run in file order on one master: the first install publishes the example
project, the next tests use what it published, the update moves one formula, and the
conflict test checks that a failure leaves everything served as it was.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest
from saltsuite import MASTER_ID, REPO, SERVED_STATE, json_documents, progress_events, runner_output, tag_commit

pytestmark = pytest.mark.salt

FORMULAS = ("example_org/common-formula", "example_org/firewall-formula", "example_org/nginx-formula", "example_org/users-formula")
# The example project wants nginx>=v1.0.0 and firewall<v2.0.0; nginx v2.0.0 needs firewall>=v2.0.0,
# so the resolver backtracks to nginx v1.1.0 (see README).
EXPECTED_TAGS = {
    "example_org/common-formula": "v1.1.0",
    "example_org/firewall-formula": "v1.5.0",
    "example_org/nginx-formula": "v1.1.0",
    "example_org/users-formula": "v1.2.0",
}
FIREWALL = "example_org/firewall-formula"
FIREWALL_V16_SLS = """\
shaker_example_firewall:
  test.succeed_without_changes:
    - name: firewall v1.6.0
"""
FIREWALL_V16_RULES = """\
shaker_example_firewall_rules:
  test.succeed_without_changes:
    - name: firewall rules
"""
FIREWALL_V16_MODULE = '''\
"""Shipped by firewall-formula v1.6.0: a module file the published root did not have before."""


def rules():
    return "firewall-rules-16"
'''


def _served_release(project_dir):
    return os.path.basename(os.readlink(project_dir / "vendor" / "_root"))


@pytest.fixture(scope="module")
def first_install(salt_run_cli, salt_minion, project_dir):
    """``salt-run shaker.install`` on the fresh example project, once for the module."""
    assert not (project_dir / "vendor" / "_root").exists() or not any((project_dir / "vendor" / "_root").iterdir())
    started = time.time()
    result = salt_run_cli.run("shaker.install")
    report, progress = runner_output(result)
    return {"result": result, "report": report, "progress": progress, "started": started}


def test_install_returns_the_four_pins_and_a_release(first_install, example_forge, project_dir):
    result, report = first_install["result"], first_install["report"]
    assert result.returncode == 0, result
    assert report["success"] is True
    assert report["command"] == "install"
    assert report["published"] is True
    assert report["previous_release"] is None
    expected = {name: {"ref": tag, "commit": tag_commit(example_forge.bare(name), tag)} for name, tag in EXPECTED_TAGS.items()}
    assert report["formulas"] == expected
    assert report["changes"] == {name: {"kind": "added", "old": None, "new": pin} for name, pin in expected.items()}
    assert re.fullmatch(r"[0-9a-f]{16}", report["release"])
    # What the report says is what is on disk: the lock pins it, _root serves it.
    assert _served_release(project_dir) == report["release"]
    lock = (project_dir / "formula-requirements.txt").read_text()
    for name, pin in expected.items():
        assert f"{name}=={pin['ref']} {pin['commit']}\n" in lock
    assert sorted(os.listdir(project_dir / "vendor" / "_root")) == ["_modules", "_shaker", "_states", "common", "firewall", "nginx", "users"]
    # salt-run showed one progress message per fetched mirror before the return.
    assert sorted(first_install["progress"]) == [f"fetched {name}" for name in FORMULAS]
    # each carries the run's counts, as the command line's progress line shows them
    events = progress_events(first_install["result"])
    assert [event["fetched"] for event in events] == list(range(1, len(FORMULAS) + 1))
    assert events[-1]["known"] == len(FORMULAS) and events[-1]["received_bytes"] > 0


def test_install_fires_complete_event(first_install, event_listener, project_dir):
    report = first_install["report"]
    matched = event_listener.wait_for_events([(MASTER_ID, "shaker/install/complete")], after_time=first_install["started"], timeout=30)
    assert matched.found_all_events, "no shaker/install/complete event on the master bus"
    (event,) = list(matched)
    assert event.data["command"] == "install"
    assert event.data["release"] == report["release"]
    assert event.data["previous_release"] is None
    assert event.data["root_dir"] == str(project_dir)
    assert event.data["changes"] == report["served_changes"]
    assert set(event.data["changes"]) == set(FORMULAS)
    # nginx ships _modules/, common ships _states/: minions must sync.
    assert event.data["module_dirs_changed"] is True


def test_minion_applies_nginx_from_the_published_root(first_install, salt_cli, salt_minion):
    result = salt_cli.run("state.apply", "nginx", minion_tgt=salt_minion.id)
    assert result.returncode == 0, result
    states = {ret["__id__"]: ret for ret in result.data.values()}
    # nginx includes users and firewall; users renders common/map.jinja from the common formula.
    assert set(states) == {"shaker_example_nginx", "shaker_example_users", "shaker_example_firewall"}
    assert all(ret["result"] is True for ret in states.values()), states
    assert {ret["__sls__"] for ret in states.values()} == {"nginx", "users", "firewall"}
    assert states["shaker_example_users"]["name"] == "users for example"


def test_a_minion_reads_what_the_master_serves(first_install, salt_cli, salt_minion, project_dir):
    """salt://_shaker/release.json, shaker.served and a state that records the versions in a grain, on a real minion."""
    on_disk = json.loads((project_dir / "vendor" / "_root" / "_shaker" / "release.json").read_text())
    assert on_disk["release"] == _served_release(project_dir)
    text = salt_cli.run("cp.get_file_str", "salt://_shaker/release.json", minion_tgt=salt_minion.id)
    assert text.returncode == 0, text
    assert json.loads(text.data) == on_disk
    served = salt_cli.run("shaker.served", minion_tgt=salt_minion.id)
    assert served.returncode == 0, served
    assert served.data == on_disk
    assert {name: formula["tag"] for name, formula in served.data["formulas"].items()} == EXPECTED_TAGS
    missing = salt_cli.run("shaker.served", "saltenv=nowhere", minion_tgt=salt_minion.id)
    assert missing.returncode != 0 and "The master serves no salt://_shaker/release.json in saltenv 'nowhere'" in str(missing.data), missing

    assert "\n".join(f"    {line}" for line in SERVED_STATE.splitlines()) in (REPO / "README.rst").read_text()  # the README's state
    applied = salt_cli.run("state.apply", "served", minion_tgt=salt_minion.id)
    assert applied.returncode == 0, applied
    grain = salt_cli.run("grains.get", "shaker_release", minion_tgt=salt_minion.id)
    assert grain.data == {"release": on_disk["release"], "project_commit": None, "formulas": EXPECTED_TAGS}


def test_the_runner_writes_the_metrics_file(first_install, salt_run_cli, project_dir, salt_base_dir):
    """A runner run rewrites metrics_file (here given as an argument, as the master's shaker: config would)."""
    from prometheus_client.parser import text_string_to_metric_families

    metrics_file = salt_base_dir / "textfile" / "shaker.prom"
    result = salt_run_cli.run("shaker.install_pinned", f"metrics_file={metrics_file}")
    report, _ = runner_output(result)
    assert result.returncode == 0 and report["success"] is True, result
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(metrics_file.read_text()) for sample in family.samples}
    base = (("saltenv", "base"),)
    assert samples[("shaker_last_run_success", base)] == 1 and samples[("shaker_drift", base)] == 0
    assert samples[("shaker_formulas_served", base)] == len(FORMULAS)
    assert samples[("shaker_release_info", (("project_commit", ""), ("release", _served_release(project_dir)), ("saltenv", "base")))] == 1
    # the runner's record says so too: its trigger
    assert json.loads((project_dir / "vendor" / "deploy.json").read_text())["trigger"] == "runner"


def test_minion_loads_the_formulas_modules_after_sync_all(first_install, salt_cli, salt_minion):
    synced = salt_cli.run("saltutil.sync_all", minion_tgt=salt_minion.id)
    assert synced.returncode == 0, synced
    assert "modules.nginx_helper" in synced.data["modules"]
    assert "states.common_marker" in synced.data["states"]
    version = salt_cli.run("nginx_helper.version", minion_tgt=salt_minion.id)
    assert version.returncode == 0, version
    assert version.data == "nginx-helper-1"
    marker = salt_cli.run("state.single", "common_marker.present", "name=marker", minion_tgt=salt_minion.id)
    assert marker.returncode == 0, marker
    (ret,) = marker.data.values()
    assert ret["result"] is True and ret["comment"] == "common_marker is loaded"


def test_status_reports_an_edited_served_file_and_install_pinned_restores_it(first_install, salt_run_cli, salt_cli, salt_minion, project_dir):
    """An in-place edit of a served file (a hard link into the store) is drift against git; a pinned install rebuilds from the mirror."""
    served = project_dir / "vendor" / "_root" / "nginx" / "init.sls"
    original = served.read_text()
    served.write_text(original.replace("shaker_example_nginx", "edited_by_hand"))

    status, _ = runner_output(salt_run_cli.run("shaker.status"))
    assert status["tree"]["edited"] == ["nginx/init.sls"] and status["in_sync"] is False, status

    report, _ = runner_output(salt_run_cli.run("shaker.install_pinned"))
    assert report["repaired"]["edited"] == ["nginx/init.sls"] and report["published"] is True, report
    assert served.read_text() == original
    status, _ = runner_output(salt_run_cli.run("shaker.status"))
    assert status["in_sync"] is True and status["tree"]["edited"] == [], status
    applied = salt_cli.run("state.apply", "nginx", minion_tgt=salt_minion.id)
    assert "shaker_example_nginx" in {ret["__id__"] for ret in applied.data.values()}, applied


def test_update_moves_one_formula_and_minion_sees_it_without_restart(
    first_install, salt_master, salt_run_cli, salt_cli, salt_minion, example_forge, project_dir, event_listener
):
    """A new firewall tag upstream; `shaker.update` moves it; the running master serves it at once.

    The master has fileserver_list_cache_time 300: the minion lists the master's files
    first (filling the roots file-list cache), so the new files of v1.6.0 (a new sls and
    a new execution module) are only visible afterwards if the runner cleared that cache.
    """
    master_pid = salt_master.pid
    listed = salt_cli.run("cp.list_master", minion_tgt=salt_minion.id)
    assert "firewall/init.sls" in listed.data and "firewall/rules.sls" not in listed.data
    before = (project_dir / "formula-requirements.txt").read_text()
    previous_release = _served_release(project_dir)

    new_commit = example_forge.release(
        FIREWALL,
        "v1.6.0",
        {
            "firewall/init.sls": FIREWALL_V16_SLS,
            "firewall/rules.sls": FIREWALL_V16_RULES,
            "_modules/firewall_helper.py": FIREWALL_V16_MODULE,
        },
    )
    started = time.time()
    result = salt_run_cli.run("shaker.update", FIREWALL)
    report, _ = runner_output(result)
    assert result.returncode == 0, result
    assert report["success"] is True and report["command"] == "update" and report["published"] is True
    assert report["changes"] == {
        FIREWALL: {
            "kind": "moved",
            "old": {"ref": "v1.5.0", "commit": tag_commit(example_forge.bare(FIREWALL), "v1.5.0")},
            "new": {"ref": "v1.6.0", "commit": new_commit},
        }
    }
    assert {name: pin["ref"] for name, pin in report["formulas"].items()} == {**EXPECTED_TAGS, FIREWALL: "v1.6.0"}
    assert report["previous_release"] == previous_release != report["release"]
    assert _served_release(project_dir) == report["release"]
    after = (project_dir / "formula-requirements.txt").read_text()
    assert after != before and f"{FIREWALL}==v1.6.0 {new_commit}\n" in after

    matched = event_listener.wait_for_events([(MASTER_ID, "shaker/install/complete")], after_time=started, timeout=30)
    assert matched.found_all_events
    (event,) = list(matched)
    assert event.data["command"] == "update"
    assert event.data["release"] == report["release"] and event.data["previous_release"] == previous_release
    assert set(event.data["changes"]) == {FIREWALL}
    assert event.data["module_dirs_changed"] is True  # firewall now ships _modules/firewall_helper.py

    # The same master process serves the new content.
    assert salt_master.is_running() and salt_master.pid == master_pid
    content = salt_cli.run("cp.get_file_str", "salt://firewall/init.sls", minion_tgt=salt_minion.id)
    assert content.data == FIREWALL_V16_SLS
    listed = salt_cli.run("cp.list_master", minion_tgt=salt_minion.id)
    assert "firewall/rules.sls" in listed.data and "_modules/firewall_helper.py" in listed.data
    applied = salt_cli.run("state.apply", "firewall.rules", minion_tgt=salt_minion.id)
    assert applied.returncode == 0, applied
    (ret,) = applied.data.values()
    assert ret["result"] is True and ret["name"] == "firewall rules"
    synced = salt_cli.run("saltutil.sync_modules", minion_tgt=salt_minion.id)
    assert "modules.firewall_helper" in synced.data
    assert salt_cli.run("firewall_helper.rules", minion_tgt=salt_minion.id).data == "firewall-rules-16"
    applied = salt_cli.run("state.apply", "nginx", minion_tgt=salt_minion.id)
    assert applied.returncode == 0, applied
    names = {ret["__id__"]: ret["name"] for ret in applied.data.values()}
    assert names["shaker_example_firewall"] == "firewall v1.6.0"


CONFLICTING_METADATA = """\
formula: example_org/site-formula
dependencies:
  - example_org/nginx-formula==v2.0.0
  - example_org/firewall-formula<v2.0.0
"""


def test_conflict_fails_visibly_and_keeps_serving(first_install, salt_run_cli, project_dir, event_listener):
    metadata = project_dir / "metadata.yml"
    original = metadata.read_text()
    lock_before = (project_dir / "formula-requirements.txt").read_bytes()
    served_before = _served_release(project_dir)
    files_before = sorted(os.listdir(project_dir / "vendor" / "_root"))
    metadata.write_text(CONFLICTING_METADATA)
    started = time.time()
    try:
        result = salt_run_cli.run("shaker.install")
    finally:
        metadata.write_text(original)
    report = json_documents(result.stdout)[-1]
    assert result.returncode != 0, result
    assert report["success"] is False
    assert report["error"] == "conflict"
    assert report["retcode"] == result.returncode == 4
    message = report["message"]
    assert message.startswith("Cannot pick one version of example_org/firewall-formula that satisfies every constraint:")
    assert "project -> example_org/nginx-formula v2.0.0 -> example_org/firewall-formula>=v2.0.0" in message
    assert "project -> example_org/firewall-formula<v2.0.0" in message
    assert "overrides:" in message

    matched = event_listener.wait_for_events([(MASTER_ID, "shaker/install/failed")], after_time=started, timeout=30)
    assert matched.found_all_events, "no shaker/install/failed event on the master bus"
    (event,) = list(matched)
    assert event.data["success"] is False and event.data["message"] == message
    assert event.data["root_dir"] == str(project_dir)
    assert not event_listener.get_events([(MASTER_ID, "shaker/install/complete")], after_time=started)

    # Nothing moved: the same release is served, the lock is byte for byte the same.
    assert _served_release(project_dir) == served_before
    assert sorted(os.listdir(project_dir / "vendor" / "_root")) == files_before
    assert (project_dir / "formula-requirements.txt").read_bytes() == lock_before


def test_runner_functions_are_documented(salt_run_cli):
    result = salt_run_cli.run("doc.runner")
    assert result.returncode == 0, result
    docs = {name: doc for name, doc in result.data.items() if name.startswith("shaker.")}
    assert {"shaker.install", "shaker.install_pinned", "shaker.update", "shaker.check", "shaker.status"} <= set(docs)
    for name, doc in docs.items():
        assert "CLI Example" in doc and f"salt-run {name}" in doc, name
