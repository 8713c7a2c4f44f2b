"""Per-key coalescing on the real lock and mark files: a trigger during a sync is never lost, and runs its own key."""
from __future__ import annotations

import fcntl

from shaker_core.coalesce import EVERYTHING, SYNC_LOCK, coalesced


def test_a_trigger_while_a_sync_holds_the_lock_is_run_by_the_next_holder_under_its_own_key(tmp_path):
    ran = []
    with open(tmp_path / SYNC_LOCK, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert coalesced(tmp_path, ["dev_a"], ran.append) == ({}, {})  # left to the sync in progress
        assert coalesced(tmp_path, ["dev_a"], ran.append) == ({}, {})  # a second trigger of the same key: still one mark
    done, runs = coalesced(tmp_path, ["base"], lambda key: ran.append(key) or f"deployed {key}")
    assert sorted(ran) == ["base", "dev_a"] and runs == {"base": 1, "dev_a": 1}
    assert done == {"base": "deployed base", "dev_a": "deployed dev_a"}
    assert not list(tmp_path.glob(".sync-pending*"))


def test_a_whole_project_mark_stands_for_every_key(tmp_path):
    ran = []
    with open(tmp_path / SYNC_LOCK, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        coalesced(tmp_path, ["dev_a"], ran.append)
        coalesced(tmp_path, ["feature_x"], ran.append)
    done, runs = coalesced(tmp_path, [EVERYTHING], ran.append)
    assert ran == [EVERYTHING] and runs == {EVERYTHING: 1}
    assert not list(tmp_path.glob(".sync-pending*"))
