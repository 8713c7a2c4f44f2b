"""Loading salt-shaker from file_roots with ``saltutil.sync_all``, on a master without its entry point.

salt-shaker is installed (editable) in the only virtualenv this machine has, and that
install registers the ``salt.loader`` entry point through which every salt process
finds the runner, module and state with no sync. To test the other documented way in
(the repository's ``_runners/ _modules/ _states/`` in ``file_roots``, then
``saltutil.sync_all``), this module starts a second master and minion, and runs their
CLIs, with a ``sitecustomize.py`` first on ``PYTHONPATH`` that drops salt-shaker's
entry points from ``importlib.metadata.entry_points()``, the one call through which
salt discovers loader entry points (``salt.utils.entrypoints.iter_entry_points``).
That stands in for "not installed" as far as salt's loader can tell; ``shaker_core``
stays importable, as it must be on any master that runs the synced modules (for
example installed with ``salt-pip``). This is the only stand-in in the salt suite,
and the first test checks that it hides exactly that entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from saltsuite import PROJECT_METADATA, REPO, runner_output, state_result

pytestmark = pytest.mark.salt

ENTRY_POINT = "shaker_core.saltext:loader_dirs"
SHAKER_RUNNERS = {"shaker.install", "shaker.install_pinned", "shaker.update", "shaker.check", "shaker.status"}

SITECUSTOMIZE = '''\
"""Hide salt-shaker's entry points from this interpreter (see tests/salt/test_salt_fileroots.py)."""
import importlib.metadata as _metadata
import re as _re

_entry_points = _metadata.entry_points


def _visible(entry_points):
    for entry_point in entry_points:
        dist = getattr(entry_point, "dist", None)
        name = dist.metadata["Name"] if dist is not None else None
        if name and _re.sub(r"[-_.]+", "-", name).lower() == "salt-shaker":
            continue
        yield entry_point


def entry_points(**params):
    found = _entry_points(**params)
    if isinstance(found, dict):  # Python < 3.12 without parameters: SelectableGroups, a dict of groups
        return type(found)((group, _metadata.EntryPoints(_visible(eps))) for group, eps in dict.items(found))
    return _metadata.EntryPoints(_visible(found))


_metadata.entry_points = entry_points
'''

PROBE = (
    "import json, salt.utils.entrypoints as e, shaker_core.api, shaker_runners; "
    "print(json.dumps(sorted(ep.value for ep in e.iter_entry_points('salt.loader'))))"
)


@pytest.fixture(scope="module")
def hidden_environ(salt_base_dir):
    hide = salt_base_dir / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(SITECUSTOMIZE)
    pythonpath = os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": pythonpath}


@pytest.fixture(scope="module")
def fileroots_dir(salt_base_dir):
    """The master's file_roots: copies of the repository's _runners/, _modules/ and _states/."""
    files = salt_base_dir / "fr-files"
    for kind in ("_runners", "_modules", "_states"):
        shutil.copytree(REPO / kind, files / kind, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return files


@pytest.fixture(scope="module")
def fr_project(salt_base_dir):
    project = salt_base_dir / "fr-project"
    project.mkdir()
    (project / "metadata.yml").write_text(PROJECT_METADATA)
    return project


@pytest.fixture(scope="module")
def fr_master(salt_factories, hidden_environ, fileroots_dir, fr_project, example_forge):
    overrides = {
        "file_roots": {"base": [str(fileroots_dir)]},
        "shaker": {"root_dir": str(fr_project), "source_template": example_forge.template},
    }
    factory = salt_factories.salt_master_daemon("ss-fr-master", overrides=overrides)
    # salt-factories 1.0.5 passes environ=<the manager's own dict> to every daemon factory, so an
    # environ= keyword here would be a duplicate argument; set the attribute before the start
    # instead, with a new dict (mutating the shared one would change every daemon).
    factory.environ = dict(hidden_environ)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def fr_minion(fr_master, hidden_environ, example_forge):
    factory = fr_master.salt_minion_daemon("ss-fr-minion", overrides={"shaker": {"source_template": example_forge.template}})
    factory.environ = dict(hidden_environ)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def fr_run(fr_master, hidden_environ):
    return fr_master.salt_run_cli(timeout=120, environ=dict(hidden_environ))


@pytest.fixture(scope="module")
def fr_salt(fr_master, fr_minion, hidden_environ):
    return fr_master.salt_cli(timeout=120, environ=dict(hidden_environ))


def _loader_entry_points(environ):
    done = subprocess.run([sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_stand_in_hides_only_the_entry_point(hidden_environ):
    assert ENTRY_POINT in _loader_entry_points(dict(os.environ))
    # Still importable (the probe imports shaker_core and shaker_runners), but invisible to salt's loader.
    assert ENTRY_POINT not in _loader_entry_points(hidden_environ)


def test_before_sync_nothing_is_loaded(fr_run, fr_salt, fr_minion):
    docs = fr_run.run("doc.runner")
    assert docs.returncode == 0, docs
    assert "jobs.list_jobs" in docs.data  # the runner docs are there, only shaker's are not
    assert not [name for name in docs.data if name.startswith("shaker.")]
    missing = fr_run.run("shaker.status")
    assert "'shaker.status' is not available" in missing.stdout + missing.stderr
    functions = fr_salt.run("sys.list_functions", "shaker", minion_tgt=fr_minion.id)
    assert functions.returncode == 0 and functions.data == []
    states = fr_salt.run("sys.list_state_functions", "shaker", minion_tgt=fr_minion.id)
    assert states.returncode == 0 and states.data == []


def test_sync_all_then_runner_module_and_state_work(fr_master, fr_run, fr_salt, fr_minion, fr_project, salt_base_dir):
    synced = fr_run.run("saltutil.sync_all")
    assert synced.returncode == 0, synced
    assert "runners.shaker" in synced.data["runners"]
    assert os.path.isfile(os.path.join(fr_master.config["extension_modules"], "runners", "shaker.py"))
    synced = fr_salt.run("saltutil.sync_all", minion_tgt=fr_minion.id)
    assert synced.returncode == 0, synced
    assert "modules.shaker" in synced.data["modules"]
    assert "states.shaker" in synced.data["states"]

    # The runner, loaded from the master's extension modules.
    docs = fr_run.run("doc.runner")
    assert SHAKER_RUNNERS <= {name for name in docs.data if name.startswith("shaker.")}
    installed = fr_run.run("shaker.install")
    report, _ = runner_output(installed)
    assert installed.returncode == 0, installed
    assert report["success"] is True and report["published"] is True
    assert len(report["formulas"]) == 4
    assert os.path.basename(os.readlink(fr_project / "vendor" / "_root")) == report["release"]

    # The execution module, loaded from the minion's synced modules.
    status = fr_salt.run("shaker.status", f"root_dir={fr_project}", minion_tgt=fr_minion.id)
    assert status.returncode == 0, status
    assert status.data["release"] == report["release"] and status.data["in_sync"] is True
    assert status.data["formulas"] == report["formulas"]

    # The state, loaded from the minion's synced states.
    target = salt_base_dir / "fr-state-project"
    target.mkdir()
    applied = fr_salt.run(
        "state.single", "shaker.pinned", f"name={target}", 'dependencies=["example_org/common-formula==v1.1.0"]', minion_tgt=fr_minion.id
    )
    assert applied.returncode == 0, applied
    ret = state_result(applied.data)
    assert ret["result"] is True
    assert ret["changes"] == {"example_org/common-formula": {"old": None, "new": "v1.1.0"}}
    assert (target / "vendor" / "_root" / "common" / "init.sls").is_file()
