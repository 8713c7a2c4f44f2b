"""GitCache against real bare repositories, over file:// and smart HTTP with a password."""
from __future__ import annotations

import os
import random
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.forge import Exec, Forge, Link, git
from helpers.http_git import GitHttpServer
from helpers.run import path_names

from shaker_core import gitobjects
from shaker_core.errors import GitError, LayoutError
from shaker_core.git import Credentials, GitCache
from shaker_core.gitfetch import Fetcher, usable_cores
from shaker_core.manifest import parse_manifest
from shaker_core.resolver import resolve
from shaker_core.sources import url_for

USER, PASSWORD = "deploy", "pa55-R1ght-never-leak"


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    return Forge(tmp_path / "forge")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def http_server(forge: Forge):
    with GitHttpServer(forge.root, USER, PASSWORD) as server:
        yield server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mirror_names(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir() if p.name.endswith(".git")) if cache_dir.is_dir() else []


# -- refs --


def test_annotated_and_lightweight_tags_are_listed_and_peeled_to_commits(forge: Forge, cache_dir: Path) -> None:
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n"}, tag="v1.0.0")
    annotated_commit = users.head()
    users.commit({"users/init.sls": "a: 2\n"})
    light_commit = users.tag("v1.1.0", annotated=False)
    tag_object = users.git("rev-parse", "v1.0.0")
    assert tag_object != annotated_commit  # the annotated tag is its own object: peeling matters

    with GitCache(cache_dir) as cache:
        tags = cache.versions(users.url)

    assert tags == {"v1.0.0": annotated_commit, "v1.1.0": light_commit}
    assert light_commit != annotated_commit


def test_junk_tags_are_listed_but_never_chosen(forge: Forge, cache_dir: Path) -> None:
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n"}, tag="v1.0.0")
    users.commit({"users/init.sls": "a: 2\n"})
    good = users.tag("v1.1.0")
    users.commit({"users/init.sls": "a: 3\n"})  # a newer commit that only junk names
    for junk in ("vfoo", "v1x2x3", "release-1"):
        users.tag(junk, annotated=junk != "vfoo")
    users.tag("v2.0.0-rc1")  # a prerelease is not picked unless asked for

    with GitCache(cache_dir) as cache:
        tags = cache.versions(users.url)
        project = parse_manifest("dependencies:\n  - org/users-formula\n", "metadata.yml")
        resolution = resolve(project, cache, lambda name: url_for(name, forge.template))

    assert set(tags) == {"v1.0.0", "v1.1.0", "vfoo", "v1x2x3", "release-1", "v2.0.0-rc1"}
    pin = resolution.pins["org/users-formula"]
    assert (pin.ref, pin.commit) == ("v1.1.0", good)


def test_branches_are_listed(forge: Forge, cache_dir: Path) -> None:
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n"}, tag="v1.0.0")
    develop = users.branch("develop", {"users/init.sls": "a: dev\n"})
    release = users.branch("release-2")

    with GitCache(cache_dir) as cache:
        branches = cache.branches(users.url)
        tags = cache.versions(users.url)

    assert branches == {"main": users.head(), "develop": develop, "release-2": release}
    assert develop != users.head()
    assert "develop" not in tags


# -- reading and exporting --


def test_manifest_at_reads_metadata_from_the_object_database(forge: Forge, cache_dir: Path) -> None:
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n"}, dependencies=["org/common-formula>=v1.0"], tag="v1.0.0")
    first = users.head()
    second = users.commit(dependencies=["org/common-formula>=v2.0", "org/extra-formula"], metadata={"exports": ["users", "people"]})
    bare = users.commit({"metadata.yml": None}, message="drop metadata")

    with GitCache(cache_dir) as cache:
        old = cache.manifest_at(users.url, first)
        new = cache.manifest_at(users.url, second)
        none = cache.manifest_at(users.url, bare)
        mirror = cache.mirror_path(users.url)

    assert [str(r.constraint) for r in old.requirements] == [">=v1.0"]
    assert [r.name for r in new.requirements] == ["org/common-formula", "org/extra-formula"]
    assert new.exports == ("users", "people")
    assert none.requirements == () and none.exports == () and none.name is None
    # no checkout anywhere: the mirror is bare, and no formula file exists on disk in the cache
    assert (mirror / "HEAD").is_file() and not (mirror / ".git").exists()
    assert not [p for p in path_names(cache_dir) if p.endswith(("metadata.yml", "init.sls"))]


def test_export_writes_executable_bits_and_in_formula_symlinks(forge: Forge, cache_dir: Path, tmp_path: Path) -> None:
    users = forge.formula(
        "org/users-formula",
        {
            "users/init.sls": "users: {}\n",
            "users/files/run.sh": Exec("#!/bin/sh\necho hi\n"),
            "users/alias.sls": Link("init.sls"),
            "users/files/up.sls": Link("../init.sls"),
            "users/dirlink": Link("files"),
        },
        tag="v1.0.0",
    )
    dest = tmp_path / "out"
    with GitCache(cache_dir) as cache:
        cache.versions(users.url)
        written = cache.export(users.url, users.head(), dest)

    assert (dest / "users" / "init.sls").read_text() == "users: {}\n"
    run = (dest / "users" / "files" / "run.sh").stat().st_mode
    assert run & stat.S_IXUSR and stat.S_IMODE(run) == 0o755
    assert not (dest / "users" / "init.sls").stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    assert os.readlink(dest / "users" / "alias.sls") == "init.sls"
    assert os.readlink(dest / "users" / "files" / "up.sls") == "../init.sls"
    assert os.readlink(dest / "users" / "dirlink") == "files"
    assert (dest / "users" / "files" / "up.sls").read_text() == "users: {}\n"
    assert (dest / "metadata.yml").is_file() and not (dest / ".git").exists()
    blob_bytes = sum(len(p.read_bytes()) for p in dest.rglob("*") if p.is_file() and not p.is_symlink())
    assert written >= blob_bytes > 0


@pytest.mark.parametrize("path, target", [
    ("users/shadow", "/etc/shadow"),
    ("escape", "../../x"),
    ("users/up", "../../outside"),
    ("users/deep", "a/../../../x"),
])
def test_export_refuses_a_symlink_pointing_outside_the_formula(forge: Forge, cache_dir: Path, tmp_path: Path, path: str, target: str) -> None:
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n", path: Link(target)}, tag="v1.0.0")
    dest = tmp_path / "out"
    with GitCache(cache_dir) as cache:
        cache.versions(users.url)
        with pytest.raises(LayoutError) as caught:
            cache.export(users.url, users.head(), dest)

    assert path in caught.value.message and target in caught.value.message
    assert not [p for p in dest.rglob("*") if p.is_symlink() and os.readlink(p) == target]


@pytest.mark.parametrize("entry", [".git/config", "users/.git/hooks/post-checkout", ".GIT/config"])
def test_export_refuses_a_dot_git_directory_in_the_tree(forge: Forge, cache_dir: Path, tmp_path: Path, entry: str) -> None:
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n"}, tag="v1.0.0")
    evil = users.raw_commit({"users/init.sls": "a: 1\n", entry: "[core]\n\thooksPath = /tmp/evil\n"}, "refs/tags/v1.1.0")
    assert entry in git("ls-tree", "-r", "--name-only", evil, cwd=users.bare).splitlines()

    dest = tmp_path / "out"
    with GitCache(cache_dir) as cache:
        assert cache.versions(users.url)["v1.1.0"] == evil
        with pytest.raises(LayoutError, match=r"\.git"):
            cache.export(users.url, evil, dest)

    assert not [p for p in path_names(dest) if ".git" in p.lower().split(os.sep)]


# -- mirrors and fetching --


def test_mirror_names_hold_no_credentials_and_are_stable(cache_dir: Path) -> None:
    cache = GitCache(cache_dir)
    try:
        secret = cache.mirror_path("https://user:secret@git.example.com/org/users-formula.git")
        token_only = cache.mirror_path("https://secret@git.example.com/org/users-formula.git")
        plain = cache.mirror_path("https://git.example.com/org/users-formula.git")
        other = cache.mirror_path("https://git.example.com/org/common-formula.git")
        ssh = cache.mirror_path("git@github.com:org/users-formula.git")
    finally:
        cache.close()

    assert "secret" not in secret.name and "secret" not in token_only.name
    assert secret == token_only == plain == cache.mirror_path("https://git.example.com/org/users-formula.git")
    assert len({plain, other, ssh}) == 3
    assert all(p.parent == cache_dir and p.name.endswith(".git") for p in (plain, other, ssh))


def test_each_mirror_is_fetched_at_most_once_per_cache(forge: Forge, cache_dir: Path) -> None:
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n"}, tag="v1.0.0")
    common = forge.formula("org/common-formula", {"common/init.sls": "c: 1\n"}, tag="v1.0.0")

    with GitCache(cache_dir, jobs=4) as cache:
        cache.prefetch([users.url, common.url, users.url])
        for _ in range(3):
            cache.versions(users.url)
            cache.branches(users.url)
            cache.versions(common.url)
        cache.manifest_at(users.url, users.head())
        cache.ensure_commits([(users.url, users.head()), (common.url, common.head())])
        cache.prefetch([users.url])
        assert sorted(cache.fetched) == sorted([users.url, common.url])

    users.commit({"users/init.sls": "a: 2\n"})
    newer = users.tag("v1.1.0")
    with GitCache(cache_dir) as again:  # a new run fetches again, and sees the new tag
        assert again.versions(users.url)["v1.1.0"] == newer
        assert again.fetched == [users.url]


def test_fetch_policy_missing_does_not_fetch_when_the_commit_is_present(forge: Forge, cache_dir: Path, tmp_path: Path) -> None:
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n"}, dependencies=["org/common-formula"], tag="v1.0.0")
    commit = users.head()
    with GitCache(cache_dir) as warm:
        warm.versions(users.url)
    users.bare.rename(tmp_path / "gone.git")  # the remote vanishes

    with GitCache(cache_dir, fetch_policy="missing") as cache:
        cache.ensure_commits([(users.url, commit)])
        assert cache.versions(users.url) == {"v1.0.0": commit}
        assert [r.name for r in cache.manifest_at(users.url, commit).requirements] == ["org/common-formula"]
        cache.export(users.url, commit, tmp_path / "out")
        assert cache.fetched == []
        # a commit the mirror lacks does make it fetch, and that now fails
        with pytest.raises(GitError, match="org/users-formula"):
            cache.ensure_commits([(users.url, "0" * 40)])
    assert (tmp_path / "out" / "users" / "init.sls").read_text() == "a: 1\n"

    with GitCache(cache_dir, fetch_policy="always") as always, pytest.raises(GitError, match="org/users-formula"):
        always.versions(users.url)


@pytest.mark.parametrize("kind", ["file", "http"])
def test_an_unreachable_remote_names_the_formula_and_the_redacted_url(cache_dir: Path, tmp_path: Path, kind: str) -> None:
    if kind == "file":
        url, shown = f"file://{tmp_path}/nowhere/org/ghost-formula.git", f"file://{tmp_path}/nowhere/org/ghost-formula.git"
    else:
        port = closed_port()
        url, shown = f"http://deploy:hunter2@127.0.0.1:{port}/org/ghost-formula.git", f"http://deploy:***@127.0.0.1:{port}/org/ghost-formula.git"

    with GitCache(cache_dir, timeout=10) as cache, pytest.raises(GitError) as caught:
        cache.versions(url)

    message = caught.value.message
    assert "org/ghost-formula" in message and shown in message
    assert "hunter2" not in message and "hunter2" not in str(caught.value.data)
    assert mirror_names(cache_dir) == []


# -- smart HTTP with a password --


def test_fetch_over_smart_http_with_a_password(forge: Forge, cache_dir: Path, http_server: GitHttpServer, tmp_path: Path) -> None:
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n", "users/run": Exec("#!/bin/sh\n")}, tag="v1.0.0")
    url = f"{http_server.url}org/users-formula.git"
    credentials = Credentials({http_server.url: {"username": USER, "password": PASSWORD}})

    with GitCache(cache_dir, credentials=credentials) as cache:
        assert cache.versions(url) == {"v1.0.0": users.head()}
        assert cache.branches(url) == {"main": users.head()}
        cache.export(url, users.head(), tmp_path / "out")

    assert (tmp_path / "out" / "users" / "init.sls").read_text() == "a: 1\n"
    assert os.access(tmp_path / "out" / "users" / "run", os.X_OK)
    # the server really asked: refused without credentials, then served with them
    assert ("GET", "/org/users-formula.git/info/refs", False) in http_server.requests
    assert ("POST", "/org/users-formula.git/git-upload-pack", True) in http_server.requests
    assert len(mirror_names(cache_dir)) == 1
    assert not [p for p in path_names(cache_dir) if PASSWORD in p or USER in p]
    config = (cache.mirror_path(url) / "config").read_text()
    assert PASSWORD not in config


@pytest.mark.parametrize("configured", [{"username": USER, "password": "wrong-pa55word-xyz"}, None])
def test_a_wrong_or_missing_password_is_refused_without_leaking_it(
    forge: Forge, cache_dir: Path, http_server: GitHttpServer, configured: dict | None
) -> None:
    forge.formula("org/users-formula", {"users/init.sls": "a: 1\n"}, tag="v1.0.0")
    url = f"{http_server.url}org/users-formula.git"
    credentials = Credentials({http_server.url: configured} if configured else {})

    with GitCache(cache_dir, credentials=credentials) as cache, pytest.raises(GitError) as caught:
        cache.versions(url)

    message = caught.value.message
    assert "org/users-formula" in message and "credentials" in message
    assert "wrong-pa55word-xyz" not in message and PASSWORD not in message
    assert not [ok for _, _, ok in http_server.requests if ok]
    assert mirror_names(cache_dir) == []


# -- the test environment itself --


def test_git_and_libgit2_see_no_configuration_but_the_repository_own(tmp_path: Path, isolated_git: Path) -> None:
    import pygit2

    assert os.environ["HOME"] == str(isolated_git) and os.environ["GIT_CONFIG_NOSYSTEM"] == "1"
    repo = tmp_path / "r.git"
    git("init", "-q", "--bare", str(repo), cwd=tmp_path)
    origins = git("config", "--list", "--show-origin", cwd=repo).splitlines()
    assert origins and all(line.startswith(f"file:{repo}/config") or line.startswith("file:config") for line in origins), origins
    assert git("var", "GIT_AUTHOR_IDENT", cwd=repo).startswith("Forge Tester <tester@example.invalid>")

    keys = {entry.name for entry in pygit2.Repository(str(repo)).config}
    assert keys and all(key.startswith("core.") for key in keys), keys


class FetchesInFlight:
    """Wraps Fetcher.fetch_into to count how many run at once; each is held 50 ms so that overlapping ones do overlap."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = self.most = 0
        self._lock = threading.Lock()
        real = Fetcher.fetch_into

        def counted(fetcher: Fetcher, *args: Any) -> None:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
            try:
                time.sleep(0.05)
                real(fetcher, *args)
            finally:
                with self._lock:
                    self.now -= 1

        monkeypatch.setattr(Fetcher, "fetch_into", counted)


@pytest.mark.parametrize("transport", ["file", "http"])
def test_local_sources_are_fetched_at_most_one_per_core_and_remote_ones_jobs_at_once(
    forge: Forge, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """A file:// fetch has no network wait to overlap: more at once than cores only queue. An HTTP one may wait on a far host."""
    formulas = [forge.formula(f"org/f{i}-formula", {f"f{i}/init.sls": "a: 1\n"}, tag="v1.0.0") for i in range(12)]
    jobs = 6
    in_flight = FetchesInFlight(monkeypatch)
    with GitHttpServer(forge.root) as server, GitCache(cache_dir, jobs=jobs) as cache:
        urls = [f.url if transport == "file" else f"{server.url}{f.name}.git" for f in formulas]
        cache.prefetch(urls)
        assert all(cache.versions(url) == {"v1.0.0": f.head()} for url, f in zip(urls, formulas, strict=True))

    assert in_flight.most == (min(jobs, usable_cores()) if transport == "file" else jobs)


def test_a_tag_is_read_as_the_commit_it_names_whether_light_annotated_or_on_a_tree(forge: Forge, cache_dir: Path) -> None:
    """``ref`` answers the same before and after the commit is known (a known commit skips the peel); a tree is never a commit."""
    users = forge.formula("org/users-formula", {"users/init.sls": "a: 1\n"}, tag="v1.0.0")
    light = users.tag("v1.0.0-light", annotated=False)
    tree = users.git("rev-parse", "main^{tree}")
    users.git("tag", "on-a-tree", tree)
    commit = users.head()

    with GitCache(cache_dir) as cache:
        before = {tag: cache.ref(users.url, f"refs/tags/{tag}") for tag in ("v1.0.0", "v1.0.0-light", "on-a-tree", "absent")}
        assert cache.has_commit(users.url, commit) and not cache.has_commit(users.url, tree)
        after = {tag: cache.ref(users.url, f"refs/tags/{tag}") for tag in ("v1.0.0", "v1.0.0-light", "on-a-tree", "absent")}

    assert before == after == {"v1.0.0": commit, "v1.0.0-light": light, "on-a-tree": None, "absent": None}
    assert light == commit


def test_object_files_lists_complete_objects_as_a_realpath_oracle_would(tmp_path: Path) -> None:
    """Random object directories with temporary files, symlinks, nested directories and strays: only complete objects and packs."""
    rng = random.Random(20261203)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ("e" * 38)).write_bytes(b"x")
    for trial in range(40):
        objects = tmp_path / f"t{trial}" / "objects"
        objects.mkdir(parents=True)
        expected: set[str] = set()
        for _ in range(rng.randint(0, 30)):
            expected |= _random_object_entry(rng, objects, outside)
        found = {str(p.relative_to(objects)) for p in gitobjects.object_files(objects)}
        assert found == expected, trial


def _random_object_entry(rng: random.Random, objects: Path, outside: Path) -> set[str]:
    """Make one entry under ``objects``; return its path if it is a complete object (judged by ``lstat`` and ``realpath``)."""
    directory = rng.choice(["ab", "0f", "pack", "info", "xy", "abc", "pack/sub", "ab/cd"])
    name = rng.choice(["c" * 38, "tmp_obj_" + "c" * 30, "pack-1.pack", "pack-1.idx", "pack-1.rev", "pack-1.keep", "tmp_pack_1.pack", "short"])
    place = objects / directory
    place.mkdir(parents=True, exist_ok=True)
    path = place / name
    kind = rng.choice(["file", "file", "link-out", "link-in", "dir"])
    if path.exists() or path.is_symlink():
        return set()
    if kind == "file":
        path.write_bytes(b"object")
    elif kind == "dir":
        path.mkdir()
    else:
        os.symlink(outside / ("e" * 38) if kind == "link-out" else objects, path)
    relative = str(path.relative_to(objects))
    parent = relative.rsplit("/", 1)[0]
    complete = stat.S_ISREG(os.lstat(path).st_mode) and os.path.realpath(path) == str(path) and not name.startswith("tmp")
    in_pack = parent == "pack" and name.endswith((".pack", ".idx", ".rev"))
    loose = len(parent) == 2 and all(c in "0123456789abcdef" for c in parent) and len(name) >= 38
    return {relative} if complete and (in_pack or loose) else set()
