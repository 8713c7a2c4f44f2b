"""Faults with real processes: kill -9 mid-install, a remote that vanishes or hangs, a full disk, a corrupt mirror, a stale lock.

Every test starts from a published project on a private copy of the small forge
(hardkit), makes something go wrong, and checks that what is served is a complete
release whose files are exactly what its pins hold in git, that the lock agrees with
it (or is recovered to agree by the next run), and that the next run succeeds.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import threading
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
    make_project,
    ok,
    one_line_error,
    release_app,
    release_record,
    served_release,
)
from helpers.forge import Forge
from helpers.run import Result, cli_env, command, finish, shaker, start

POINTS = ("before-fetch", "mid-fetch", "mid-export", "after-build", "after-stage", "after-switch", "after-publish")
SWITCHED = {"after-switch", "after-publish"}  # _root already serves the new release when the process dies


def leftovers(project: Path) -> list[str]:
    vendor = project / "vendor"
    found = [p.name for p in vendor.iterdir() if p.name.startswith((".staging-", ".root-"))]
    found += [p.name for p in (vendor / "store").iterdir() if p.name.startswith(".tmp-")]
    found += [p.name for p in project.iterdir() if p.name.endswith(".next")]
    return found


# -- kill -9 at every named point --


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_at_each_point_loses_nothing(small_forge: Forge, published: Path, point: str) -> None:
    old_release, old_lock = served_release(published), (published / "formula-requirements.txt").read_bytes()
    new_commit = release_app(small_forge, "v1.1.0")

    killed = shaker("install", cwd=published, env={"SHAKER_FAULT_POINT": point})

    assert killed.code == -signal.SIGKILL, str(killed)
    served = assert_serves_a_complete_release(published, small_forge)
    if point in SWITCHED:
        assert served[APP] == ("v1.1.0", new_commit) and served_release(published) != old_release
    else:
        assert served[APP][0] == "v1.0.0" and served_release(published) == old_release
    if point == "after-switch":
        # _root serves the new release, the lock on disk still pins the old one: the new lock is
        # staged beside it. `status` (read-only, takes no lock) reports the drift; the next writer
        # (install-pinned-versions here) finishes the interrupted lock update before anything else.
        assert (published / "formula-requirements.txt").read_bytes() == old_lock
        assert (published / ".formula-requirements.txt.next").is_file()
        status = ok(shaker("status", "--json", cwd=published)).json()
        assert status["in_sync"] is False and set(status["differences"]) == {APP}
        assert status["differences"][APP] == {"pinned": {"ref": "v1.0.0", "commit": lock_pins(published)[APP][1]}, "served": {"ref": "v1.1.0", "commit": new_commit}}
        recovered = ok(shaker("install-pinned-versions", cwd=published))
        assert "Finished the lock update of release" in recovered.err
        assert ok(shaker("status", "--json", cwd=published)).json()["in_sync"] is True
    assert_lock_matches_served(published)

    result = ok(shaker("install", "--json", cwd=published))

    assert result.json()["formulas"][APP] == {"ref": "v1.1.0", "commit": new_commit}
    assert assert_serves_a_complete_release(published, small_forge)[APP] == ("v1.1.0", new_commit)
    assert_lock_matches_served(published)
    assert (published / "vendor" / "_root" / "app" / "init.sls").read_text() == "app: v1.1.0\n"
    assert leftovers(published) == []
    assert ok(shaker("status", "--json", cwd=published)).json()["in_sync"] is True


def test_kill_9_during_the_first_install_leaves_nothing_served(small_forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", small_forge.template, cache_dir=tmp_path / "cache")
    for point in ("mid-export", "after-stage"):
        killed = shaker("install", cwd=project, env={"SHAKER_FAULT_POINT": point})
        assert killed.code == -signal.SIGKILL, str(killed)
        assert not (project / "vendor" / "_root").exists() and not (project / "vendor" / "_root").is_symlink()
        assert not (project / "formula-requirements.txt").exists()

    ok(shaker("install", cwd=project))

    assert assert_serves_a_complete_release(project, small_forge)[APP][0] == "v1.0.0"
    assert_lock_matches_served(project)
    assert leftovers(project) == []


def test_kill_9_at_arbitrary_moments_keeps_a_complete_release_served(small_forge: Forge, published: Path) -> None:
    """SIGKILL at times spread over an install (not only at the named points), four times in a row."""
    started = time.monotonic()
    ok(shaker("install", cwd=published))  # nothing to do: the time of a start-up plus a fetch
    baseline = time.monotonic() - started
    killed = 0
    for index, fraction in enumerate((0.5, 0.8, 1.0, 1.3)):
        release_app(small_forge, f"v1.1.{index}")
        process = start("install", cwd=published)
        time.sleep(baseline * fraction)
        process.send_signal(signal.SIGKILL)
        result = finish(process)
        killed += result.code == -signal.SIGKILL
        assert result.code in (0, -signal.SIGKILL), str(result)
        served = assert_serves_a_complete_release(published, small_forge)
        staged = published / ".formula-requirements.txt.next"
        if lock_pins(published) != served:  # only between the switch and the lock rename
            assert staged.read_text() == release_record(published)["lock_text"]  # the next writer commits it
            ok(shaker("install-pinned-versions", cwd=published))
        assert_lock_matches_served(published)

    ok(shaker("install", cwd=published))
    assert assert_serves_a_complete_release(published, small_forge)[APP][0] == "v1.1.3"
    assert_lock_matches_served(published)
    assert leftovers(published) == []
    assert killed >= 1  # at least one kill landed mid-run (the others may have found it finished)


def test_a_dead_writer_never_blocks_the_next_run(small_forge: Forge, published: Path) -> None:
    lock_file = published / "vendor" / ".lock"
    lock_file.write_text("999999\n")  # a pid that is not running: the file is not the lock, the flock is
    release_app(small_forge, "v1.1.0")
    killed = shaker("install", cwd=published, env={"SHAKER_FAULT_POINT": "after-build"})  # dies holding the flock
    assert killed.code == -signal.SIGKILL and lock_file.read_text().strip().isdigit()

    started = time.monotonic()
    ok(shaker("install", cwd=published))  # lock_timeout is 20 s: a stale lock would fail it with exit 6

    assert time.monotonic() - started < 15
    assert lock_pins(published)[APP][0] == "v1.1.0"
    assert_lock_matches_served(published)


# -- remotes that vanish or hang --


def test_a_remote_that_disappears_fails_with_exit_5_and_changes_nothing(small_forge: Forge, published: Path, tmp_path: Path) -> None:
    release_app(small_forge, "v1.1.0")
    before = disk_state(published)
    small_forge[APP].bare.rename(tmp_path / "gone.git")

    started = time.monotonic()
    result = shaker("install", cwd=published)

    assert result.code == 5 and time.monotonic() - started < 30, str(result)
    assert one_line_error(result) == (
        f"Fetching {APP} (file://{small_forge.root}/org/app-formula.git) failed: there is no repository at {small_forge.root}/org/app-formula.git; "
        "check that the source exists and is reachable."
    )
    assert_unchanged(before, disk_state(published), "vanished")
    ok(shaker("install-pinned-versions", cwd=published))  # the lock's commits are cached: serving goes on without the remote
    assert_unchanged(before, disk_state(published), "pinned")


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers (a hung git host)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        self.sock.close()


@pytest.mark.parametrize("how", ["shaker.yml", "SHAKER_GIT_TIMEOUT"])
def test_a_remote_that_hangs_times_out_with_exit_5(published: Path, how: str) -> None:
    server = SilentServer()
    try:
        config = yaml.safe_load((published / "shaker.yml").read_text())
        config["source_template"] = f"http://127.0.0.1:{server.port}/{{org}}/{{name}}.git"
        config["git_timeout"] = 2 if how == "shaker.yml" else 60
        (published / "shaker.yml").write_text(yaml.safe_dump(config))
        before = disk_state(published)

        started = time.monotonic()
        result = shaker("install", cwd=published, env={"SHAKER_GIT_TIMEOUT": "2"} if how == "SHAKER_GIT_TIMEOUT" else None, timeout=60)
        elapsed = time.monotonic() - started

        message = one_line_error(result)
        assert result.code == 5, str(result)
        assert elapsed < 15, elapsed  # about git_timeout (2 s) plus a start-up, not a hang
        assert server.connections, "the fetch never connected"
        assert message.startswith(f"Fetching {APP} (http://127.0.0.1:{server.port}/org/app-formula.git) failed: "), message
        assert "timed out" in message and message.endswith("; check that the source exists and is reachable."), message
        assert_unchanged(before, disk_state(published), "hung")
    finally:
        server.close()


# -- a full disk --

LIMIT = 1 << 20  # RLIMIT_FSIZE: no file over 1 MiB may be written


def limited(limit: int = LIMIT):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def run_limited(*args: str, cwd: Path) -> Result:
    done = subprocess.run(command(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=60, preexec_fn=limited())
    return Result(done.returncode, done.stdout, done.stderr, args)


def test_a_full_disk_during_export_is_a_layout_error_and_the_old_root_keeps_serving(small_forge: Forge, published: Path, tmp_path: Path) -> None:
    big = small_forge.formula("org/big-formula", {"big/init.sls": "big: 1\n", "big/blob.bin": os.urandom(2 * LIMIT)}, tag="v1.0.0")
    (published / "metadata.yml").write_text(yaml.safe_dump({"dependencies": [APP, "org/big-formula"]}))
    assert shaker("check", cwd=published).code == 1  # fills the mirror cache without the limit; writes nothing else
    before = disk_state(published)

    result = run_limited("install", cwd=published)

    assert result.code == 6, str(result)  # not killed by SIGXFSZ (CPython ignores it), not an internal error (70)
    assert one_line_error(result) == (
        f"Exporting org/big-formula v1.0.0 into {published}/vendor/store failed: a file is over the file size limit (ulimit -f); "
        "free space and run again (nothing was switched)."
    )
    assert_unchanged(before, disk_state(published), "disk full")
    assert not [p for p in (published / "vendor" / "store").iterdir() if p.name.startswith(".tmp-")]
    assert assert_serves_a_complete_release(published, small_forge)[APP][0] == "v1.0.0"

    # the same limit hit while fetching (a fresh cache): a git error, and still nothing changed
    config = yaml.safe_load((published / "shaker.yml").read_text())
    (published / "shaker.yml").write_text(yaml.safe_dump({**config, "cache_dir": str(tmp_path / "fresh-cache")}))
    before_fetch = disk_state(published)
    fetching = run_limited("install", cwd=published)
    assert fetching.code == 5, str(fetching)
    message = one_line_error(fetching)
    assert message.startswith(f"Fetching org/big-formula (file://{big.bare}) failed: ") and "File too large" in message, message
    assert_unchanged(before_fetch, disk_state(published), "fetch over the limit")
    assert (before_fetch.lock, before_fetch.root_target, before_fetch.releases) == (before.lock, before.root_target, before.releases)

    ok(shaker("install", cwd=published))  # with room again, the next run publishes
    assert (published / "vendor" / "_root" / "big" / "blob.bin").stat().st_size == 2 * LIMIT
    assert_serves_a_complete_release(published, small_forge)
    assert_lock_matches_served(published)


# -- a corrupt mirror --

CORRUPTIONS = ("truncate the pack", "garble the pack", "delete the objects directory")


def app_mirror(cache: Path) -> Path:
    return next(p for p in cache.iterdir() if p.name.startswith("org-app-formula-") and p.name.endswith(".git"))


def packed(mirror: Path) -> Path:
    """The mirror's one pack: a mirror seeded from a local source holds its loose objects, so pack them first."""
    subprocess.run(["git", "--git-dir", str(mirror), "repack", "-a", "-d", "-q"], check=True)
    return next((mirror / "objects" / "pack").glob("*.pack"))


def corrupt(mirror: Path, how: str) -> None:
    pack = packed(mirror)
    if how == "delete the objects directory":
        shutil.rmtree(mirror / "objects")
        return
    pack.chmod(0o644)
    data = bytearray(pack.read_bytes())
    if how == "truncate the pack":
        data = data[: len(data) // 2]
    else:
        for index in range(32, len(data) - 20):
            data[index] ^= 0x5A
    pack.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["install", "install-pinned-versions"])
@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_corrupt_mirror_is_detected_and_cloned_again(small_forge: Forge, published: Path, tmp_path: Path, how: str, command: str) -> None:
    """install fetches every mirror (with a new tag to take); install-pinned-versions first asks the damaged mirror for the locked commits."""
    if command == "install":
        release_app(small_forge, "v1.1.0")
    mirror = app_mirror(tmp_path / "cache")
    corrupt(mirror, how)

    result = ok(shaker(command, cwd=published))

    assert f"The cached mirror {mirror.name} is damaged; cloning it again." in result.err
    assert assert_serves_a_complete_release(published, small_forge)[APP][0] == ("v1.1.0" if command == "install" else "v1.0.0")
    assert_lock_matches_served(published)
    assert (mirror / "objects").is_dir()


def test_a_damaged_object_behind_readable_tips_is_a_git_error_then_cloned_again(small_forge: Forge, published: Path, tmp_path: Path) -> None:
    """Only one blob's bytes garbled: every ref's commit and tree still read, so the mirror looks sound until the
    export reads that blob. A second project sharing the cache installs the same lock (no fetch: the commits are cached)."""
    mirror = app_mirror(tmp_path / "cache")
    pack = packed(mirror)
    blob = small_forge[APP].git("rev-parse", "v1.0.0:app/files/motd")
    listing = subprocess.run(["git", "verify-pack", "-v", str(pack.with_suffix(".idx"))], capture_output=True, text=True, check=True).stdout
    _, kind, _, size_in_pack, offset = next(line.split()[:5] for line in listing.splitlines() if line.startswith(blob))
    assert kind == "blob"
    pack.chmod(0o644)
    data = bytearray(pack.read_bytes())
    for index in range(int(offset) + 3, int(offset) + int(size_in_pack)):  # the deflated bytes after the zlib header
        data[index] ^= 0x5A
    pack.write_bytes(bytes(data))
    second = make_project(tmp_path / "second", small_forge.template, cache_dir=tmp_path / "cache")
    shutil.copy(published / "formula-requirements.txt", second / "formula-requirements.txt")

    result = shaker("install-pinned-versions", cwd=second)

    assert result.code == 5, str(result)
    message = one_line_error(result)
    assert message.startswith(f"The cached mirror of {APP} (file://{small_forge.root}/org/app-formula.git) is damaged ({blob}: "), message
    assert message.endswith("); it was removed: run again to fetch it afresh."), message
    assert not mirror.exists()
    assert not (second / "vendor" / "_root").is_symlink()

    ok(shaker("install-pinned-versions", cwd=second))
    assert assert_serves_a_complete_release(second, small_forge) == assert_serves_a_complete_release(published, small_forge)
    assert_lock_matches_served(second)
