"""The metrics file through syncs of a project repository: a coalesced burst is seen waiting, then counted as the runs it became."""
from __future__ import annotations

import fcntl

from gitopskit import served_release
from prometheus_client.parser import text_string_to_metric_families
from test_gitops_core import make_settings

from shaker_core import coalesce, gitops

BASE = (("saltenv", "base"),)
SUCCESS = ("shaker_runs_total", (("outcome", "success"), ("saltenv", "base")))


def read_metrics(path):
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(path.read_text()) for sample in family.samples}


def test_a_coalesced_burst_waits_visibly_then_runs_once(workdir, forge, project_repo):
    root = workdir / "project"
    root.mkdir()
    metrics_file = workdir / "textfile" / "shaker.prom"
    settings = make_settings(root, forge, project_repo, metrics_file=str(metrics_file))
    first = gitops.sync(settings)
    assert first["success"] is True, first
    after_first = read_metrics(metrics_file)
    one_sync = after_first[SUCCESS]
    assert one_sync >= 1 and after_first[("shaker_pending_syncs", ())] == 0
    info = [labels for name, labels in after_first if name == "shaker_release_info"]
    assert info == [(("project_commit", project_repo.initial), ("release", served_release(root)), ("saltenv", "base"))]

    with open(root / "vendor" / coalesce.SYNC_LOCK, "a+") as held:  # a sync in progress, as far as triggers can tell
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        burst = [gitops.sync(settings, trigger="webhook") for _ in range(5)]
        assert all(report.get("coalesced") for report in burst), burst
        waiting = read_metrics(metrics_file)
        assert waiting[("shaker_pending_syncs", ())] == 1  # five triggers of one key: one sync to run
        assert waiting[SUCCESS] == one_sync  # nothing ran yet
    again = gitops.sync(settings)
    assert again["success"] is True and again["runs"] == 1, again
    after = read_metrics(metrics_file)
    assert after[("shaker_pending_syncs", ())] == 0
    assert after[SUCCESS] == 2 * one_sync  # the burst became one run
    assert after[("shaker_last_run_success", BASE)] == 1 and after[("shaker_drift", BASE)] == 0
