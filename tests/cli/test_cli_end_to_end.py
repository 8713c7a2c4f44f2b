"""The ``salt-shaker`` command line end to end: real git repositories, real subprocesses.

The forge (built once per module, copied for each test that changes it)::

    org/users-formula     v1.0.0 v1.2.0
    org/common-formula    v1.0.0 v1.1.0                 -> users>=v1.0.0
    org/firewall-formula  v1.0.0 v1.5.0 v2.0.0
    org/nginx-formula     v1.0.0                        -> common>=v1.0.0
                          v1.1.0                        -> common>=v1.1.0, firewall>=v1.0.0
                          v2.0.0                        -> common>=v1.1.0, firewall>=v2.0.0
    org/tools-formula     v1.0.0  exports tools and tools_extra; _modules/, _states/, an executable, a symlink
    org/edge-formula      v0.1.0, branch develop

The project asks for nginx>=v1.0.0, firewall<v2.0.0, tools and edge==develop, so the
resolver backtracks from nginx v2.0.0 to v1.1.0 and pulls common and users in transitively.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from helpers.forge import Exec, Forge, Link
from helpers.http_git import GitHttpServer
from helpers.run import Result, finish, path_names, shaker, start, tree_snapshot

PROJECT = {
    "formula": "org/site-formula",
    "dependencies": ["org/nginx-formula>=v1.0.0", "org/firewall-formula<v2.0.0", "org/tools-formula", "org/edge-formula==develop"],
}
EXPECTED = {
    "org/common-formula": "v1.1.0",
    "org/edge-formula": "develop",
    "org/firewall-formula": "v1.5.0",
    "org/nginx-formula": "v1.1.0",
    "org/tools-formula": "v1.0.0",
    "org/users-formula": "v1.2.0",
}
SERVED_TOP = {"common", "edge", "firewall", "nginx", "tools", "tools_extra", "users", "_modules", "_states", "_shaker"}
REPORT_KEYS = {"command", "success", "simulate", "root_dir", "changes", "lock_changed", "release", "published", "formulas", "warnings"}


def build_forge(root: Path) -> Forge:
    forge = Forge(root)
    users = forge.formula("org/users-formula", {"users/init.sls": "users: v1.0.0\n"}, tag="v1.0.0")
    users.commit({"users/init.sls": "users: v1.2.0\n"})
    users.tag("v1.2.0")
    common = forge.formula("org/common-formula", {"common/init.sls": "common: v1.0.0\n"}, dependencies=["org/users-formula>=v1.0.0"], tag="v1.0.0")
    common.commit({"common/init.sls": "common: v1.1.0\n"})
    common.tag("v1.1.0")
    firewall = forge.formula("org/firewall-formula", {"firewall/init.sls": "firewall: v1.0.0\n"}, tag="v1.0.0")
    for version in ("v1.5.0", "v2.0.0"):
        firewall.commit({"firewall/init.sls": f"firewall: {version}\n"})
        firewall.tag(version)
    nginx = forge.formula("org/nginx-formula", {"nginx/init.sls": "nginx: v1.0.0\n"}, dependencies=["org/common-formula>=v1.0.0"], tag="v1.0.0")
    nginx.commit({"nginx/init.sls": "nginx: v1.1.0\n"}, dependencies=["org/common-formula>=v1.1.0", "org/firewall-formula>=v1.0.0"])
    nginx.tag("v1.1.0")
    nginx.commit({"nginx/init.sls": "nginx: v2.0.0\n"}, dependencies=["org/common-formula>=v1.1.0", "org/firewall-formula>=v2.0.0"])
    nginx.tag("v2.0.0")
    forge.formula(
        "org/tools-formula",
        {
            "tools/init.sls": "tools: v1.0.0\n",
            "tools/alias.sls": Link("init.sls"),
            "tools/files/run.sh": Exec("#!/bin/sh\necho tools\n"),
            "tools_extra/init.sls": "tools_extra: v1.0.0\n",
            "_modules/tools.py": "def version():\n    return '1.0.0'\n",
            "_states/tools_state.py": "def present(name):\n    return {}\n",
            "README.md": "not published\n",
        },
        metadata={"exports": ["tools", "tools_extra"]},
        tag="v1.0.0",
    )
    edge = forge.formula("org/edge-formula", {"edge/init.sls": "edge: main\n"}, tag="v0.1.0")
    edge.branch("develop", {"edge/init.sls": "edge: develop\n"})
    return forge


@pytest.fixture(scope="module")
def template_forge(tmp_path_factory: pytest.TempPathFactory) -> Forge:
    """The forge, for tests that only read it."""
    return build_forge(tmp_path_factory.mktemp("template") / "forge")


@pytest.fixture
def forge(template_forge: Forge, tmp_path: Path) -> Forge:
    """A private copy of the forge, for tests that change it."""
    return template_forge.copy(tmp_path / "forge")


def make_project(root: Path, template: str, **settings: object) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "metadata.yml").write_text(yaml.safe_dump(PROJECT, sort_keys=False))
    config = {"source_template": template, **{k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}}
    (root / "shaker.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


@pytest.fixture
def project(forge: Forge, tmp_path: Path) -> Path:
    """A project on the private forge, its cache in vendor/cache."""
    return make_project(tmp_path / "project", forge.template)


def read_lock(root: Path) -> dict[str, tuple[str, ...]]:
    """``{name: (ref, commit[, source])}`` from formula-requirements.txt."""
    pins = {}
    for line in (root / "formula-requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            pin, *rest = line.split()
            name, ref = pin.split("==")
            pins[name] = (ref, *rest)
    return pins


def lock_lines(root: Path) -> dict[str, str]:
    return {line.split("==")[0]: line for line in (root / "formula-requirements.txt").read_text().splitlines() if not line.startswith("#")}


def served_release(root: Path) -> str:
    return Path(os.readlink(root / "vendor" / "_root")).name


def release_formulas(root: Path, release: str | None = None) -> dict[str, dict]:
    release = release or served_release(root)
    return json.loads((root / "vendor" / "releases" / f"{release}.json").read_text())["formulas"]


RECORDS = ("vendor/.lock", "vendor/deploy.json", "vendor/deploys.jsonl")


def state(root: Path) -> dict[str, tuple]:
    """Everything under the project (``vendor/_root`` as a link), except the mirror cache and the run records
    (the writer lock's pid, and the deploy record every run writes, failed or not)."""
    return {path: entry for path, entry in tree_snapshot(root).items() if path not in RECORDS and not path.startswith("vendor/cache")}


def ok(result: Result) -> Result:
    assert result.code == 0, str(result)
    assert "Traceback" not in result.err, str(result)
    return result


def one_line_error(result: Result, code: int) -> str:
    assert result.code == code, str(result)
    assert "Traceback" not in result.err and "Traceback" not in result.out, str(result)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("salt-shaker: "), str(result)
    return lines[0]


# -- install and install-pinned-versions --


@pytest.mark.parametrize("cache", ["outside-vendor", "inside-vendor"])
def test_pinned_install_on_a_fresh_vendor_gives_the_identical_root(forge: Forge, tmp_path: Path, cache: str) -> None:
    settings = {"cache_dir": tmp_path / "cache"} if cache == "outside-vendor" else {}
    project = make_project(tmp_path / "project", forge.template, **settings)

    result = ok(shaker("install", cwd=project))
    assert {name: pin[0] for name, pin in read_lock(project).items()} == EXPECTED
    assert all(len(pin) == 2 and len(pin[1]) == 40 for pin in read_lock(project).values())  # default sources: no URL column
    for name, ref in EXPECTED.items():
        assert f"{name}: (none) -> {ref}" in result.out
    served = project / "vendor" / "_root"
    assert served.is_symlink() and {p.name for p in served.iterdir()} == SERVED_TOP
    assert (served / "nginx" / "init.sls").read_text() == "nginx: v1.1.0\n"  # backtracked from v2.0.0
    assert (served / "edge" / "init.sls").read_text() == "edge: develop\n"
    assert (served / "_modules" / "tools.py").is_file() and (served / "_states" / "tools_state.py").is_file()
    assert os.readlink(served / "tools" / "alias.sls") == "init.sls"
    assert os.access(served / "tools" / "files" / "run.sh", os.X_OK)
    assert not (served / "README.md").exists() and not (served / "tools" / ".git").exists()

    lock_bytes = (project / "formula-requirements.txt").read_bytes()
    release, before = served_release(project), tree_snapshot(served)
    before_description = (served / "_shaker" / "release.json").read_text()
    shutil.rmtree(project / "vendor")
    if cache == "outside-vendor":  # the mirrors hold every pinned commit: nothing is fetched, so the forge may vanish
        forge.root.rename(tmp_path / "forge-gone")

    ok(shaker("install-pinned-versions", cwd=project))
    assert served_release(project) == release
    after = tree_snapshot(served)
    # the same files, and the same description of them but for when it was built
    assert {path: entry for path, entry in after.items() if path != "_shaker/release.json"} == {
        path: entry for path, entry in before.items() if path != "_shaker/release.json"}
    described = [json.loads((served / "_shaker" / "release.json").read_text()), json.loads(before_description)]
    assert [{k: v for k, v in each.items() if k != "built"} for each in described] == [{k: v for k, v in described[1].items() if k != "built"}] * 2
    assert (project / "formula-requirements.txt").read_bytes() == lock_bytes


def test_update_moves_only_the_named_formula(forge: Forge, project: Path) -> None:
    ok(shaker("install", cwd=project))
    before = lock_lines(project)
    forge["org/users-formula"].commit({"users/init.sls": "users: v1.3.0\n"})
    forge["org/users-formula"].tag("v1.3.0")
    forge["org/firewall-formula"].commit({"firewall/init.sls": "firewall: v1.6.0\n"})
    forge["org/firewall-formula"].tag("v1.6.0")
    forge["org/tools-formula"].commit({"tools/init.sls": "tools: v1.1.0\n"})
    new_tools = forge["org/tools-formula"].tag("v1.1.0")

    result = ok(shaker("update", "org/tools-formula", cwd=project))

    after = lock_lines(project)
    assert after["org/tools-formula"] == f"org/tools-formula==v1.1.0 {new_tools}"
    assert {k: v for k, v in after.items() if k != "org/tools-formula"} == {k: v for k, v in before.items() if k != "org/tools-formula"}
    assert "org/tools-formula: v1.0.0" in result.out and "-> v1.1.0" in result.out
    assert "users-formula" not in result.out and "firewall-formula" not in result.out
    assert (project / "vendor" / "_root" / "tools" / "init.sls").read_text() == "tools: v1.1.0\n"
    assert (project / "vendor" / "_root" / "users" / "init.sls").read_text() == "users: v1.2.0\n"


def test_a_targeted_update_refetches_a_formula_it_has_to_move(forge: Forge, project: Path) -> None:
    """update NAME fetches only NAME, but a formula the new NAME forces to move is picked from a fresh fetch:
    users v1.3.0 reached the cache through an earlier check, v1.4.0 was pushed after it."""
    ok(shaker("install", cwd=project))
    users = forge["org/users-formula"]
    users.commit({"users/init.sls": "users: v1.3.0\n"})
    users.tag("v1.3.0")
    forge["org/common-formula"].commit({"common/init.sls": "common: v1.2.0\n"}, dependencies=["org/users-formula>=v1.3.0"])
    forge["org/common-formula"].tag("v1.2.0")
    assert shaker("check", cwd=project).code == 1  # fetches every mirror: the cache now knows users v1.3.0
    users.commit({"users/init.sls": "users: v1.4.0\n"})
    newest_users = users.tag("v1.4.0")

    ok(shaker("update", "org/common-formula", cwd=project))

    after = lock_lines(project)
    assert after["org/common-formula"].startswith("org/common-formula==v1.2.0 ")
    assert after["org/users-formula"] == f"org/users-formula==v1.4.0 {newest_users}"
    assert (project / "vendor" / "_root" / "users" / "init.sls").read_text() == "users: v1.4.0\n"


def test_a_targeted_update_fetches_everything_when_the_cache_cannot_satisfy_it(forge: Forge, project: Path) -> None:
    ok(shaker("install", cwd=project))
    forge["org/users-formula"].commit({"users/init.sls": "users: v1.3.0\n"})
    forge["org/users-formula"].tag("v1.3.0")
    forge["org/common-formula"].commit({"common/init.sls": "common: v1.2.0\n"}, dependencies=["org/users-formula>=v1.3.0"])
    forge["org/common-formula"].tag("v1.2.0")

    ok(shaker("update", "org/common-formula", cwd=project))

    after = lock_lines(project)
    assert after["org/common-formula"].startswith("org/common-formula==v1.2.0 ")
    assert after["org/users-formula"].startswith("org/users-formula==v1.3.0 ")


def test_check_exits_0_when_up_to_date_and_1_when_a_new_tag_exists(forge: Forge, project: Path) -> None:
    ok(shaker("install", cwd=project))
    lock_bytes = (project / "formula-requirements.txt").read_bytes()
    before = state(project)

    result = shaker("check", cwd=project)
    assert result.code == 0 and "Up to date" in result.out, str(result)

    forge["org/users-formula"].commit({"users/init.sls": "users: v1.3.0\n"})
    forge["org/users-formula"].tag("v1.3.0")
    result = shaker("check", cwd=project)
    assert result.code == 1, str(result)
    assert "org/users-formula: v1.2.0" in result.out and "-> v1.3.0" in result.out
    as_json = shaker("check", "--json", cwd=project)
    assert as_json.code == 1 and as_json.json()["pending"] is True
    assert as_json.json()["changes"]["org/users-formula"]["new"]["ref"] == "v1.3.0"

    assert (project / "formula-requirements.txt").read_bytes() == lock_bytes
    assert state(project) == before


def test_simulate_writes_nothing(forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", forge.template, cache_dir=tmp_path / "cache")
    fresh = state(project)
    result = ok(shaker("install", "--simulate", cwd=project))
    assert "Simulated" in result.out and "org/nginx-formula: (none) -> v1.1.0" in result.out
    assert state(project) == fresh  # no lock, no vendor/

    ok(shaker("install", cwd=project))
    users = forge["org/users-formula"]
    users.commit({"users/init.sls": "users: v1.3.0\n"})
    users.tag("v1.3.0")
    forge["org/tools-formula"].commit({"tools/init.sls": "tools: v1.1.0\n"})
    forge["org/tools-formula"].tag("v1.1.0")
    forge["org/common-formula"].move_tag("v1.1.0", files={"common/init.sls": "common: retagged\n"})
    before = tree_snapshot(project)  # .lock included: a simulation does not even take the writer lock

    for args, expected in [  # common's tag moved: install and update accept that only with a remote check, as a pinned install
        (("install", "--simulate", "--enable-remote-check"), "org/users-formula: v1.2.0"),
        (("update", "org/tools-formula", "--simulate", "--enable-remote-check"), "org/tools-formula: v1.0.0"),
        (("--simulate", "install-pinned-versions", "--enable-remote-check"), "org/common-formula: v1.1.0"),
    ]:
        result = ok(shaker(*args, cwd=project))
        assert expected in result.out and "Simulated" in result.out, str(result)
        assert tree_snapshot(project) == before, args

    result = ok(shaker("install", "--enable-remote-check", cwd=project))  # the real thing does change what the simulations left alone
    assert read_lock(project)["org/users-formula"][0] == "v1.3.0"
    assert tree_snapshot(project) != before


def test_a_moved_tag_fails_a_pinned_install_unless_a_remote_check_is_asked(forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", forge.template, cache_dir=tmp_path / "cache")
    ok(shaker("install", cwd=project))
    locked = read_lock(project)["org/common-formula"][1]
    old, new = forge["org/common-formula"].move_tag("v1.1.0", files={"common/init.sls": "common: retagged\n"})
    assert old == locked != new
    before, lines = state(project), lock_lines(project)

    # a fresh cache sees the tag at its new commit: an error naming the formula and the tag, nothing changed
    error = one_line_error(shaker("install-pinned-versions", "--cache-dir", str(tmp_path / "fresh-cache"), cwd=project), 5)
    assert "org/common-formula" in error and "v1.1.0" in error and "--enable-remote-check" in error
    assert state(project) == before

    # the warm cache holds the locked commit, so (by design) it is not fetched and the lock is served as it is
    ok(shaker("install-pinned-versions", cwd=project))
    assert state(project) == before

    result = ok(shaker("install-pinned-versions", "--enable-remote-check", cwd=project))
    assert f"org/common-formula: v1.1.0 ({old[:12]}) -> v1.1.0 ({new[:12]})" in result.out
    assert "moved" in result.out
    after = lock_lines(project)
    assert after["org/common-formula"] == f"org/common-formula==v1.1.0 {new}"
    assert {k: v for k, v in after.items() if k != "org/common-formula"} == {k: v for k, v in lines.items() if k != "org/common-formula"}
    assert release_formulas(project)["org/common-formula"]["commit"] == new
    assert (project / "vendor" / "_root" / "common" / "init.sls").read_text() == "common: retagged\n"


@pytest.mark.parametrize("command", [["install"], ["update"], ["update", "org/common-formula"]])
def test_install_and_update_treat_a_moved_tag_as_a_pinned_install_does(forge: Forge, tmp_path: Path, command: list[str]) -> None:
    project = make_project(tmp_path / "project", forge.template, cache_dir=tmp_path / "cache")
    ok(shaker("install", cwd=project))
    old, new = forge["org/common-formula"].move_tag("v1.1.0", files={"common/init.sls": "common: retagged\n"})
    before = state(project)

    error = one_line_error(shaker(*command, cwd=project), 5)
    assert error == (f"salt-shaker: org/common-formula: tag v1.1.0 now points at {new[:12]}, but the lock pins {old[:12]}; "
                     "run with --enable-remote-check (remote_check) to accept the move, or restore the tag.")
    assert state(project) == before

    result = ok(shaker(*command, "--enable-remote-check", cwd=project))
    assert f"org/common-formula: tag v1.1.0 moved from {old[:12]} to {new[:12]}; the lock now pins the new commit." in result.out + result.err
    assert lock_lines(project)["org/common-formula"] == f"org/common-formula==v1.1.0 {new}"


def test_an_unreachable_remote_during_install_changes_nothing(forge: Forge, project: Path, tmp_path: Path) -> None:
    ok(shaker("install", cwd=project))
    forge["org/users-formula"].commit({"users/init.sls": "users: v1.3.0\n"})
    forge["org/users-formula"].tag("v1.3.0")
    lock_bytes, target, before = (project / "formula-requirements.txt").read_bytes(), os.readlink(project / "vendor" / "_root"), state(project)
    forge["org/nginx-formula"].bare.rename(tmp_path / "nginx-gone.git")

    error = one_line_error(shaker("install", cwd=project), 5)

    assert "org/nginx-formula" in error
    assert (project / "formula-requirements.txt").read_bytes() == lock_bytes
    assert os.readlink(project / "vendor" / "_root") == target
    assert state(project) == before


def test_two_concurrent_installs_agree_with_the_lock(forge: Forge, project: Path) -> None:
    ok(shaker("install", cwd=project))
    first = served_release(project)
    forge["org/users-formula"].commit({"users/init.sls": "users: v1.3.0\n"})
    forge["org/users-formula"].tag("v1.3.0")
    forge["org/tools-formula"].commit({"tools/init.sls": "tools: v1.1.0\n", "_modules/tools.py": "def version():\n    return '1.1.0'\n"})
    forge["org/tools-formula"].tag("v1.1.0")

    processes = [start("install", "--json", cwd=project) for _ in range(2)]
    results = [finish(p) for p in processes]

    for result in results:
        ok(result)
    reports = [r.json() for r in results]
    assert reports[0]["release"] == reports[1]["release"] == served_release(project) != first
    assert sorted(r["published"] for r in reports) == [False, True]  # one published, the other found it done
    pins = read_lock(project)
    served = release_formulas(project)
    assert {name: (pin[0], pin[1]) for name, pin in pins.items()} == {name: (rec["ref"], rec["commit"]) for name, rec in served.items()}
    assert pins["org/users-formula"][0] == "v1.3.0" and pins["org/tools-formula"][0] == "v1.1.0"
    release_json = json.loads((project / "vendor" / "releases" / f"{served_release(project)}.json").read_text())
    assert release_json["lock_text"] == (project / "formula-requirements.txt").read_text()
    assert "1.1.0" in (project / "vendor" / "_root" / "_modules" / "tools.py").read_text()
    assert not [p for p in (project / "vendor").iterdir() if p.name.startswith((".staging-", ".root-"))]


# -- paths, flags and output --


def test_root_dir_given_from_another_directory_writes_nothing_there(template_forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", template_forge.template, cache_dir="mirrors")  # relative to root_dir, not to the current directory
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    ok(shaker("install", "--root_dir", "../project", cwd=elsewhere))
    result = ok(shaker("status", "--root-dir", str(project), cwd=elsewhere))

    assert "In sync" in result.out
    assert list(elsewhere.iterdir()) == []
    assert {name: pin[0] for name, pin in read_lock(project).items()} == EXPECTED
    assert len([p for p in (project / "mirrors").iterdir() if p.name.endswith(".git")]) == len(EXPECTED)
    assert not (project / "vendor" / "cache").exists()


def test_flags_after_the_command_and_json_output(template_forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", template_forge.template)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    report = ok(shaker("install", "--root_dir", str(project), "--json", cwd=elsewhere)).json()
    assert REPORT_KEYS <= set(report)
    assert report["command"] == "install" and report["success"] is True and report["simulate"] is False
    assert report["published"] is True and report["lock_changed"] is True and report["module_dirs_changed"] is True
    assert report["root_dir"] == str(project) and report["release"] == served_release(project)
    assert {name: item["ref"] for name, item in report["formulas"].items()} == EXPECTED
    assert {name: (item["ref"], item["commit"]) for name, item in report["formulas"].items()} == {n: p for n, p in read_lock(project).items()}
    assert set(report["changes"]) == set(EXPECTED) and all(c["old"] is None for c in report["changes"].values())
    assert report["warnings"] == []

    again = ok(shaker("install", "--json", "--root_dir", str(project), cwd=elsewhere)).json()
    assert again["published"] is False and again["lock_changed"] is False and again["changes"] == {}

    check = shaker("check", "--root_dir", str(project), "--json", cwd=elsewhere)
    assert check.code == 0 and check.json()["pending"] is False

    status = ok(shaker("--json", "--root_dir", str(project), "status", cwd=elsewhere)).json()
    assert status["in_sync"] is True and status["release"] == report["release"] and status["differences"] == {}
    assert list(elsewhere.iterdir()) == []


def test_a_pinned_install_without_a_lock_is_an_error_and_keeps_the_root(template_forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", template_forge.template)
    ok(shaker("install", cwd=project))
    target = os.readlink(project / "vendor" / "_root")
    served = tree_snapshot(project / "vendor" / "_root")
    lock_path = project / "formula-requirements.txt"

    for lock in ("missing", "empty", "comments only"):
        if lock == "missing":
            lock_path.unlink()
        else:
            lock_path.write_text("" if lock == "empty" else "# nothing pinned yet\n\n")

        error = one_line_error(shaker("install-pinned-versions", cwd=project), 3)

        assert "run `salt-shaker install`" in error, lock
        assert os.readlink(project / "vendor" / "_root") == target, lock
        assert tree_snapshot(project / "vendor" / "_root") == served, lock
        assert lock_path.exists() == (lock != "missing"), lock


def test_a_pinned_install_without_a_lock_on_a_new_project_creates_no_root(template_forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", template_forge.template)
    error = one_line_error(shaker("install-pinned-versions", cwd=project), 3)
    assert "run `salt-shaker install`" in error
    assert not (project / "vendor" / "_root").exists() and not (project / "vendor" / "_root").is_symlink()


USER_ERRORS = [
    # (id, metadata.yml text or None to remove it, shaker.yml extra text, argv, exit code, words in the message)
    ("bad operator", "dependencies:\n  - org/nginx-formula=>v1.0.0\n", "", ["install"], 3, ["metadata.yml", "'=>'"]),
    ("float version", "dependencies:\n  - {name: org/nginx-formula, version: 1.10}\n", "", ["install"], 3, ["metadata.yml", "quote"]),
    ("no metadata.yml", None, "", ["install"], 3, ["metadata.yml", "not found"]),
    ("bad jobs", "dependencies: []\n", "jobs: 0\n", ["install"], 2, ["jobs"]),
    ("bad bool", "dependencies: []\n", "offline: maybe\n", ["install"], 2, ["offline"]),
    ("unknown update", "dependencies: []\n", "", ["update", "org/nope-formula"], 2, ["org/nope-formula", "formula-requirements.txt"]),
    ("no such version", "dependencies:\n  - org/nginx-formula>=v9.0.0\n", "", ["install"], 4, ["org/nginx-formula"]),
    ("no such repository", "dependencies:\n  - org/ghost-formula\n", "", ["install"], 5, ["org/ghost-formula"]),
    ("bad lock line", "dependencies: []\n", "", ["install-pinned-versions"], 3, ["formula-requirements.txt line 1"]),
    ("a setting twice", "dependencies: []\n", "jobs: 2\njobs: 4\n", ["install"], 3, ["shaker.yml: the key 'jobs' is given twice (lines", "keep one"]),
]


@pytest.mark.parametrize("case", USER_ERRORS, ids=[case[0] for case in USER_ERRORS])
def test_user_errors_print_one_line_and_no_traceback(template_forge: Forge, tmp_path: Path, case: tuple) -> None:
    name, metadata, extra, argv, code, words = case
    project = make_project(tmp_path / "project", template_forge.template)
    if metadata is None:
        (project / "metadata.yml").unlink()
    else:
        (project / "metadata.yml").write_text(metadata)
    (project / "shaker.yml").write_text((project / "shaker.yml").read_text() + extra)
    if name == "unknown update":
        (project / "formula-requirements.txt").write_text("org/users-formula==v1.2.0\n")
    if name == "bad lock line":
        (project / "formula-requirements.txt").write_text("org/users-formula>=v1.2.0\n")

    error = one_line_error(shaker(*argv, cwd=project), code)

    assert all(word in error for word in words), error
    assert not (project / "vendor" / "_root").exists()


def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path) -> None:
    for argv in (["frobnicate"], [], ["install", "--jobs", "many"]):
        result = shaker(*argv, cwd=tmp_path)
        assert result.code == 2 and "Traceback" not in result.err and "usage: salt-shaker" in result.err, str(result)
    assert list(tmp_path.iterdir()) == []


# -- secrets --

USER, PASSWORD = "deploy", "Sup3r-Secret-Pa55-9731"


@pytest.fixture
def http_server(template_forge: Forge):
    with GitHttpServer(template_forge.root, USER, PASSWORD) as server:
        yield server


def test_install_over_smart_http_with_a_password_never_shows_it(http_server: GitHttpServer, tmp_path: Path) -> None:
    template = f"{http_server.url}{{org}}/{{name}}.git"
    project = make_project(tmp_path / "project", template, credentials={http_server.url: {"username": USER, "password": PASSWORD}})

    result = ok(shaker("install", "--debug", cwd=project))

    assert {name: pin[0] for name, pin in read_lock(project).items()} == EXPECTED
    assert any(ok_ and method == "POST" for method, _, ok_ in http_server.requests)  # fetched over HTTP, with credentials
    assert PASSWORD not in result.out + result.err
    assert PASSWORD not in (project / "formula-requirements.txt").read_text()
    vendor = project / "vendor"
    assert not [p for p in path_names(vendor) if PASSWORD in p]
    assert not [p for p in vendor.rglob("*") if p.is_file() and not p.is_symlink() and PASSWORD.encode() in p.read_bytes()]
    assert (vendor / "_root" / "nginx" / "init.sls").read_text() == "nginx: v1.1.0\n"

    wrong = make_project(tmp_path / "wrong", template, credentials={http_server.url: {"username": USER, "password": "Not-The-Pa55-4242"}})
    error = one_line_error(shaker("install", cwd=wrong), 5)
    assert "Not-The-Pa55-4242" not in error and PASSWORD not in error and "credentials" in error


# -- the served path and garbage collection --


def test_a_real_directory_at_the_root_path_is_refused_unless_empty(template_forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", template_forge.template)
    root = project / "vendor" / "_root"
    (root / "local").mkdir(parents=True)
    (root / "local" / "init.sls").write_text("mine: true\n")
    before = tree_snapshot(root)

    error = one_line_error(shaker("install", cwd=project), 6)

    assert str(root) in error and "move it away" in error
    assert not root.is_symlink() and tree_snapshot(root) == before
    assert not (project / "formula-requirements.txt").exists()  # the old (absent) lock stays in place too

    shutil.rmtree(root / "local")  # an empty directory (a master created its file_roots) is replaced
    ok(shaker("install", cwd=project))
    assert root.is_symlink() and {p.name for p in root.iterdir()} == SERVED_TOP


def test_only_keep_releases_releases_and_the_store_entries_they_use_remain(forge: Forge, project: Path) -> None:
    users = forge["org/users-formula"]
    releases, users_commits = [], [read_lock_commit for read_lock_commit in []]
    for version in ("v1.3.0", "v1.4.0", "v1.5.0", "v1.6.0", None):
        ok(shaker("install", cwd=project))
        releases.append(served_release(project))
        users_commits.append(read_lock(project)["org/users-formula"][1])
        if version:
            users.commit({"users/init.sls": f"users: {version}\n"})
            users.tag(version)

    assert len(set(releases)) == 5
    kept = {p.name for p in (project / "vendor" / "releases").iterdir()}
    assert kept == set(releases[-3:]) | {f"{r}.json" for r in releases[-3:]}
    assert served_release(project) == releases[-1]
    used = {rec["commit"] for r in releases[-3:] for rec in release_formulas(project, r).values()}
    store = {p.name for p in (project / "vendor" / "store").iterdir()}
    assert store == used
    assert users_commits[0] not in store and users_commits[1] not in store and users_commits[-1] in store


def test_a_commit_pin_installs_on_an_empty_cache(template_forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", template_forge.template)
    commit = template_forge["org/firewall-formula"].git("rev-parse", "v1.5.0^{commit}")
    (project / "metadata.yml").write_text(yaml.safe_dump({"dependencies": [{"name": "org/firewall-formula", "rev": commit}]}))

    ok(shaker("install", cwd=project))

    assert read_lock(project) == {"org/firewall-formula": (commit, commit)}
    assert (project / "vendor" / "_root" / "firewall" / "init.sls").read_text() == "firewall: v1.5.0\n"


@pytest.mark.parametrize(
    ("name", "metadata", "extra", "argv", "code", "kind"),
    [
        ("conflict", "dependencies:\n  - org/nginx-formula>=v9.0.0\n", "", ["install"], 4, "no-matching-version"),
        ("git", "dependencies:\n  - org/ghost-formula\n", "", ["install"], 5, "git"),
        ("manifest", "dependencies: 3\n", "", ["install"], 3, "manifest"),
        ("setting", "dependencies: []\n", "jobs: 0\n", ["install"], 2, "config"),
        ("lock", "dependencies: []\n", "", ["install-pinned-versions"], 3, "lockfile"),
    ],
)
def test_json_on_failure_is_a_document_on_stdout(template_forge: Forge, tmp_path: Path, name, metadata, extra, argv, code, kind) -> None:
    project = make_project(tmp_path / "project", template_forge.template)
    (project / "metadata.yml").write_text(metadata)
    (project / "shaker.yml").write_text((project / "shaker.yml").read_text() + extra)
    if name == "lock":
        (project / "formula-requirements.txt").write_text("org/users-formula>=v1.2.0\n")

    result = shaker(*argv, "--json", cwd=project)

    document = json.loads(result.out)
    message = one_line_error(Result(result.code, "", result.err, result.args), code).removeprefix("salt-shaker: ")
    expected_command = "install_pinned" if argv == ["install-pinned-versions"] else argv[0]
    assert document == {"command": expected_command, "success": False, "retcode": code, "error": kind, "message": message, "data": document["data"]}
    assert isinstance(document["data"], dict)


def test_json_on_a_conflict_carries_its_causes(template_forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", template_forge.template)
    (project / "metadata.yml").write_text("dependencies:\n  - org/nginx-formula>=v2.0.0\n  - org/firewall-formula<v2.0.0\n")
    result = shaker("install", "--json", cwd=project)
    document = json.loads(result.out)
    assert (result.code, document["success"], document["error"]) == (4, False, "conflict"), result
    causes = document["data"]["causes"]
    assert causes and all(set(cause) == {"formula", "requirement", "chain", "source"} for cause in causes), causes
    firewall = [cause for cause in causes if cause["formula"] == "org/firewall-formula"]
    assert firewall and all(cause["chain"][0] == "project" and cause["chain"][-1] == cause["requirement"] for cause in firewall), firewall
    assert {cause["requirement"] for cause in firewall} >= {"org/firewall-formula<v2.0.0"}
    assert all(line in document["message"] for cause in firewall for line in [" -> ".join(cause["chain"])]), document["message"]


def test_a_pinned_install_says_what_moves_in_what_is_served(forge: Forge, tmp_path: Path) -> None:
    """The lock arrives from git pinning an older firewall than is served: --simulate and the real run both name the move, once."""
    project = make_project(tmp_path / "project", forge.template, cache_dir=tmp_path / "cache")
    ok(shaker("install", cwd=project))
    served, older = read_lock(project)["org/firewall-formula"][1], forge["org/firewall-formula"].git("rev-parse", "v1.0.0^{commit}")
    lock = (project / "formula-requirements.txt").read_text().replace(f"org/firewall-formula==v1.5.0 {served}", f"org/firewall-formula==v1.0.0 {older}")
    (project / "formula-requirements.txt").write_text(lock)
    move = f"org/firewall-formula: v1.5.0 ({served[:12]}) -> v1.0.0 ({older[:12]})"

    simulated = ok(shaker("--simulate", "install-pinned-versions", cwd=project))
    assert simulated.out.splitlines()[0] == move and simulated.out.startswith(move + "\nSimulated: would publish release "), simulated
    as_json = ok(shaker("--simulate", "--json", "install-pinned-versions", cwd=project)).json()
    assert as_json["served_changes"] == {"org/firewall-formula": {"kind": "moved", "old": {"ref": "v1.5.0", "commit": served},
                                                                  "new": {"ref": "v1.0.0", "commit": older}}}
    assert as_json["changes"] == {} and as_json["published"] is False

    applied = ok(shaker("install-pinned-versions", cwd=project))
    assert applied.out.splitlines()[0] == move and "Published release " in applied.out
    assert (project / "vendor" / "_root" / "firewall" / "init.sls").read_text() == "firewall: v1.0.0\n"
    assert ok(shaker("install-pinned-versions", cwd=project)).out.startswith("Nothing to do: ")


def test_each_warning_is_printed_once(forge: Forge, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", forge.template, cache_dir=tmp_path / "cache")
    (project / "metadata.yml").write_text((project / "metadata.yml").read_text() + "maintainer: ops\n")
    result = ok(shaker("install", cwd=project))
    assert (result.out + result.err).count("unknown key 'maintainer' is ignored") == 1, str(result)
    assert "warning: metadata.yml: unknown key 'maintainer' is ignored." in result.out
