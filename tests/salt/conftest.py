"""A real salt-master and salt-minion serving what salt-shaker publishes.

One session-scoped master and minion (pytest-salt-factories) serve every test in
this directory except the file_roots test, which starts its own pair. The forge is
the repository's example forge (examples/forge.yml + examples/formulas/) built with
examples/make_forge.py's own ``build_formula`` into a temp dir, so the commit ids are
the ones the README shows; tests add tags to it through :class:`ExampleForge`.

Layout of the session master (all under one short /tmp dir, for AF_UNIX limits):

    <base>/forge/<org>/<name>.git    bare repositories, served over file://
    <base>/project/                  the master's project: metadata.yml, lock, vendor/_root
    <base>/states/                   this suite's own states (pinned.sls)
    <base>/minion-project/           root_dir of the shaker.pinned state the minion applies

The master config has ``shaker: {root_dir, source_template}``, ``file_roots`` base with
the states dir and ``<project>/vendor/_root``, and ``fileserver_list_cache_time: 300``
so a runner that forgot to clear the roots file-list cache would serve stale lists.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from saltsuite import LIST_CACHE_TIME, MASTER_ID, MINION_ID, PINNED_DEPENDENCIES, PROJECT_METADATA, SERVED_STATE, ExampleForge


@pytest.fixture(scope="session")
def salt_base_dir():
    """One short directory for everything of this suite (unix socket paths must stay short)."""
    base = Path(tempfile.mkdtemp(prefix="ss", dir="/tmp"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def salt_factories_config(salt_base_dir):
    """Daemon root dirs under the short base dir instead of the system temp dir."""
    return {"root_dir": salt_base_dir / "f"}


@pytest.fixture(scope="session")
def example_forge(salt_base_dir):
    return ExampleForge(salt_base_dir / "forge")


@pytest.fixture(scope="session")
def project_dir(salt_base_dir):
    project = salt_base_dir / "project"
    project.mkdir()
    (project / "metadata.yml").write_text(PROJECT_METADATA)
    return project


@pytest.fixture(scope="session")
def minion_project_dir(salt_base_dir):
    """The root_dir the minion's shaker.pinned state manages (exists, empty)."""
    path = salt_base_dir / "minion-project"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def states_dir(salt_base_dir, minion_project_dir):
    """The suite's own states, written before the master starts (the file-list cache is long)."""
    states = salt_base_dir / "states"
    states.mkdir()
    (states / "pinned.sls").write_text(
        yaml.safe_dump({"project_formulas": {"shaker.pinned": [{"name": str(minion_project_dir)}, {"dependencies": PINNED_DEPENDENCIES}]}})
    )
    (states / "served.sls").write_text(SERVED_STATE)
    return states


@pytest.fixture(scope="session")
def salt_master(salt_factories, example_forge, project_dir, states_dir):
    overrides = {
        "shaker": {"root_dir": str(project_dir), "source_template": example_forge.template},
        "file_roots": {"base": [str(states_dir), str(project_dir / "vendor" / "_root")]},
        "fileserver_list_cache_time": LIST_CACHE_TIME,
        "file_ignore_regex": [r"/\.git($|/)"],
    }
    factory = salt_factories.salt_master_daemon(MASTER_ID, overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def salt_minion(salt_master, example_forge):
    factory = salt_master.salt_minion_daemon(MINION_ID, overrides={"shaker": {"source_template": example_forge.template}})
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def salt_run_cli(salt_master):
    return salt_master.salt_run_cli(timeout=120)


@pytest.fixture(scope="session")
def salt_cli(salt_master, salt_minion):
    return salt_master.salt_cli(timeout=120)
