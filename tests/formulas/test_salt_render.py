"""What salt-shaker publishes, read by Salt itself: masterless ``salt-call --local`` with ``file_roots``
pointing at the published root (one root per saltenv), and the ``shaker.pinned`` state taking ``saltenv``.

Each salt-call gets a minimal minion configuration in a temp dir (file_client: local, a
short root_dir, file_roots); no daemon is started.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from formulakit import FUTURE, LINUX, SYSCTL, TEMPLATE, TIMEZONE, A, B, C, World, make_project, minion_config, read_lock, salt_call
from helpers.run import shaker

pytestmark = pytest.mark.salt  # salt-call runs here, so the minimum-versions venv (no Salt) deselects it

ENVIRONMENTS = {"dependencies": [f"{C}<v2.0.0"], "environments": {"base": [A], "dev": [B, TIMEZONE]}}


def install(project: Path, *args: str) -> None:
    result = shaker(*args, "install", cwd=project)
    assert result.code == 0, result


def by_id(data: dict) -> dict:
    """show_sls data keyed by state id, without the order Salt adds."""
    return {
        state_id: {
            "sls": body["__sls__"],
            "env": body["__env__"],
            **{module: [arg for arg in args if not (isinstance(arg, dict) and "order" in arg)] for module, args in body.items() if not module.startswith("__")},
        }
        for state_id, body in data.items()
    }


def test_published_formulas_render_with_salt(world: World, tmp_path: Path, short_dir: Path):
    project = make_project(tmp_path / "project", world.template, {"dependencies": [TEMPLATE, LINUX, f"{SYSCTL}==v0.1.0"]})
    install(project)
    # os_family is set so linux/map.jinja's grains.filter_by picks the same branch on any machine
    conf = minion_config(short_dir / "render", short_dir / "render-root", {"base": [str(project / "vendor" / "_root")]}, grains={"os_family": "RedHat"})

    code, data, output = salt_call(conf, "state.show_sls", "TEMPLATE,linux,salt,sysctl")
    assert code == 0 and isinstance(data, dict), output
    assert by_id(data) == {
        # TEMPLATE/ (FORMULA top_level_dir): tplroot from tpldir, map.jinja importing defaults.yaml, an include by absolute name
        "TEMPLATE-package-install-pkg-installed": {"sls": "TEMPLATE.package.install", "env": "base", "pkg": [{"name": "bash"}, "installed"]},
        "TEMPLATE-config-file-file-managed": {
            "sls": "TEMPLATE.config.file",
            "env": "base",
            "file": [
                {"name": "/etc/template-formula.conf"},
                {"source": "salt://TEMPLATE/files/default/example.tmpl.jinja"},
                {"template": "jinja"},
                {"require": [{"sls": "TEMPLATE.package.install"}]},
                "managed",
            ],
        },
        # linux/ (tcpcloud name: linux): map.jinja with grains.filter_by
        "linux_packages": {"sls": "linux.system", "env": "base", "pkg": [{"names": ["yum-utils"]}, "installed"]},
        "linux_motd": {"sls": "linux.system", "env": "base", "file": [{"name": "/etc/motd"}, {"contents": "managed by salt-formula-linux"}, "managed"]},
        # salt/ from the dependency resolved by its source URL
        "salt_minion_packages": {"sls": "salt.minion", "env": "base", "pkg": [{"names": ["salt-minion"]}, "installed"]},
        # sysctl/ (FORMULA only); the state id is the sysctl key itself
        "vm.swappiness": {"sls": "sysctl", "env": "base", "sysctl": [{"value": 10}, "present"]},
    }
    assert data["TEMPLATE-package-install-pkg-installed"]["__sls_included_from__"] == ["TEMPLATE.package", "TEMPLATE"]

    # the file a state names is served too
    code, text, output = salt_call(conf, "cp.get_file_str", "salt://TEMPLATE/files/default/example.tmpl.jinja")
    assert (code, text) == (0, "# managed by the TEMPLATE formula\n"), output


def test_pinned_state_with_saltenv_and_a_root_per_saltenv(world: World, tmp_path: Path, short_dir: Path):
    project = make_project(tmp_path / "project", world.template, ENVIRONMENTS)
    install(project, "--saltenv", "base")
    base_lock = (project / "formula-requirements.txt").read_text()
    root = project / "vendor" / "_root"
    conf = minion_config(
        short_dir / "envs",
        short_dir / "envs-root",
        {"base": [str(root / "base")], "dev": [str(root / "dev")]},
        shaker={"source_template": world.template},
    )

    code, data, output = salt_call(conf, "state.single", "shaker.pinned", f"name={project}", "saltenv=dev")
    assert code == 0 and isinstance(data, dict), output
    (ret,) = data.values()
    release = os.path.basename(os.readlink(root / "dev"))
    assert ret["result"] is True, ret
    assert ret["changes"] == {name: {"old": None, "new": "v1.0.0" if name != C else "v1.5.0"} for name in (B, C, TIMEZONE)}
    assert ret["comment"] == f"Pinned 3 formulas; published release {release}."
    assert {name: pin[0] for name, pin in read_lock(project / "formula-requirements.dev.txt").items()} == {B: "v1.0.0", C: "v1.5.0", TIMEZONE: "v1.0.0"}
    assert (project / "formula-requirements.txt").read_text() == base_lock
    assert os.readlink(root / "dev") != os.readlink(root / "base")

    code, data, output = salt_call(conf, "state.single", "shaker.pinned", f"name={project}", "saltenv=dev")
    (ret,) = data.values()
    assert code == 0 and ret["result"] is True and ret["changes"] == {}, output
    assert ret["comment"] == f"The formula root already serves the 3 pinned formulas (release {release})."

    # file_roots maps each saltenv to its own root
    code, data, output = salt_call(conf, "state.show_sls", "b,timezone", "saltenv=dev")
    assert code == 0, output
    assert {state_id: (body["__sls__"], body["__env__"]) for state_id, body in data.items()} == {"b_marker": ("b", "dev"), "timezone_marker": ("timezone", "dev")}
    code, data, output = salt_call(conf, "state.show_sls", "b")
    assert code != 0 and data == ["No matching sls found for 'b' in env 'base'"], output


def test_pinned_state_checks_minimum_version_against_the_running_salt(world: World, tmp_path: Path, short_dir: Path):
    strict, lenient = tmp_path / "strict", tmp_path / "lenient"
    strict.mkdir()
    lenient.mkdir()
    states = tmp_path / "states"
    states.mkdir()
    (states / "future.sls").write_text(yaml.safe_dump({
        "future_strict": {"shaker.pinned": [{"name": str(strict)}, {"dependencies": [FUTURE]}, {"strict_minimum_version": True}]},
        "future_lenient": {"shaker.pinned": [{"name": str(lenient)}, {"dependencies": [FUTURE]}]},
    }))
    conf = minion_config(short_dir / "future", short_dir / "future-root", {"base": [str(states)]}, shaker={"source_template": world.template})

    code, data, output = salt_call(conf, "state.apply", "future")
    assert code != 0 and isinstance(data, dict), output
    results = {ret["__id__"]: ret for ret in data.values()}
    import salt.version  # only where Salt is installed: see pytestmark

    running = salt.version.__version__
    needs = f"{FUTURE} v1.0.0 needs Salt 3999.1 or newer (FORMULA minimum_version), and this is Salt {running}"
    assert results["future_strict"]["result"] is False
    assert results["future_strict"]["comment"] == f"{needs}; upgrade Salt or pin an older version of the formula."
    assert not (strict / "formula-requirements.txt").exists() and not (strict / "vendor" / "_root").exists()
    assert results["future_lenient"]["result"] is True
    assert results["future_lenient"]["changes"] == {FUTURE: {"old": None, "new": "v1.0.0"}}
    assert results["future_lenient"].get("warnings") == [f"{needs}; set strict_minimum_version to refuse it."]
    assert sorted(os.listdir(lenient / "vendor" / "_root")) == ["_shaker", "future"]

