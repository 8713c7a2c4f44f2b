"""Ctrl-C (SIGINT) and SIGTERM at every named fault point, and during a fetch from a silent remote:
the run stops within 2 seconds with 128 + the signal number, and the old release and the old lock
stay as they were. Real git over file:// and a real silent TCP server, the real command line."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import yaml
from hardkit import (
    APP,
    assert_lock_matches_served,
    assert_serves_a_complete_release,
    assert_unchanged,
    disk_state,
    lock_pins,
    ok,
    release_app,
    served_release,
)
from helpers.forge import Forge
from helpers.run import finish, shaker, start
from test_faults import POINTS, SilentServer, leftovers

SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM}


@pytest.mark.parametrize("command", ["install", "update"])
@pytest.mark.parametrize("name", sorted(SIGNALS))
@pytest.mark.parametrize("point", POINTS)
def test_a_signal_at_each_point_keeps_the_old_release_and_lock(small_forge: Forge, published: Path, point: str, name: str, command: str) -> None:
    old_release, old_lock = served_release(published), (published / "formula-requirements.txt").read_bytes()
    new_commit = release_app(small_forge, "v1.1.0")

    started = time.monotonic()
    result = shaker(command, cwd=published, env={"SHAKER_FAULT_POINT": point, "SHAKER_FAULT_SIGNAL": name})
    elapsed = time.monotonic() - started

    assert result.code == 128 + SIGNALS[name], str(result)
    assert result.err.endswith("salt-shaker: interrupted; the served release and the lock are as they were.\n"), str(result)
    assert elapsed < 10, elapsed  # start-up and the run up to the point; a signal that is ignored publishes and takes no longer, see below
    served = assert_serves_a_complete_release(published, small_forge)
    if point == "after-publish":  # the lock was committed: the publish is complete, only garbage collection is skipped
        assert served[APP] == ("v1.1.0", new_commit)
    else:
        assert served[APP][0] == "v1.0.0" and served_release(published) == old_release
        assert (published / "formula-requirements.txt").read_bytes() == old_lock
    assert_lock_matches_served(published)
    assert leftovers(published) == []
    assert not (published / ".formula-requirements.txt.next").exists()

    ok(shaker("install", cwd=published))
    assert assert_serves_a_complete_release(published, small_forge)[APP] == ("v1.1.0", new_commit)


@pytest.mark.parametrize("point", ["mid-export", "after-build", "after-switch"])  # a pinned install stages no lock: the lock is its input
def test_a_signal_during_a_pinned_install_keeps_the_old_release(small_forge: Forge, published: Path, point: str) -> None:
    new_commit = release_app(small_forge, "v1.1.0")
    old_lock = (published / "formula-requirements.txt").read_text()
    old_commit = lock_pins(published)[APP][1]
    pinned = old_lock.replace(f"{APP}==v1.0.0 {old_commit}", f"{APP}==v1.1.0 {new_commit}")
    assert pinned != old_lock
    (published / "formula-requirements.txt").write_text(pinned)
    old_release = served_release(published)

    result = shaker("install-pinned-versions", cwd=published, env={"SHAKER_FAULT_POINT": point, "SHAKER_FAULT_SIGNAL": "INT"})

    assert result.code == 130, str(result)
    # the complete release it built stays for the next run, unserved, as after a kill -9
    assert served_release(published) == old_release and leftovers(published) == []
    assert (published / "formula-requirements.txt").read_text() == pinned
    assert assert_serves_a_complete_release(published, small_forge)[APP][0] == "v1.0.0"


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_a_signal_during_a_fetch_from_a_silent_remote_stops_within_2_seconds(published: Path, name: str) -> None:
    server = SilentServer()
    try:
        config = yaml.safe_load((published / "shaker.yml").read_text())
        config.update(source_template=f"http://127.0.0.1:{server.port}/{{org}}/{{name}}.git", git_timeout=120)
        (published / "shaker.yml").write_text(yaml.safe_dump(config))
        before = disk_state(published)
        process = start("install", cwd=published)
        deadline = time.monotonic() + 30
        while not server.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.connections, "the fetch never connected"

        sent = time.monotonic()
        process.send_signal(SIGNALS[name])
        result = finish(process, timeout=30)
        stopped = time.monotonic() - sent

        assert result.code == 128 + SIGNALS[name], str(result)
        assert stopped < 2, stopped
        assert_unchanged(before, disk_state(published), "interrupted fetch")
    finally:
        server.close()
