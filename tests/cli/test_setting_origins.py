"""A bad setting is named together with where it came from: shaker.yml, SHAKER_<NAME> or --flag on the
command line; the 'shaker' config, the 'shaker' pillar or the arguments inside Salt. Never the wrong one."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers.run import shaker

from shaker_core.adapter import settings_from
from shaker_core.errors import ConfigError


@pytest.mark.parametrize(
    ("file_jobs", "env", "argv", "origin"),
    [
        (0, {}, [], "shaker.yml"),
        (4, {"SHAKER_JOBS": "0"}, [], "SHAKER_JOBS"),
        (4, {"SHAKER_JOBS": "4"}, ["--jobs", "0"], "--jobs"),
        (0, {"SHAKER_JOBS": "4"}, [], "SHAKER_JOBS"),  # later wins: the environment's good value, so no error
    ],
)
def test_the_command_line_names_the_layer_that_set_the_value(tmp_path: Path, file_jobs: int, env: dict, argv: list, origin: str) -> None:
    (tmp_path / "metadata.yml").write_text("dependencies: []\n")
    (tmp_path / "shaker.yml").write_text(yaml.safe_dump({"jobs": file_jobs, "source_template": "file:///nowhere/{org}/{name}.git"}))
    result = shaker(*argv, "install", "--simulate", cwd=tmp_path, env=env)
    if env.get("SHAKER_JOBS") == "4" and "--jobs" not in argv:
        assert result.code == 0, result
        return
    assert (result.code, result.err) == (2, f"salt-shaker: {origin}: 'jobs' must be at least 1, not 0.\n"), result


def test_a_timeout_from_the_environment_is_named_so(tmp_path: Path) -> None:
    (tmp_path / "metadata.yml").write_text("dependencies: []\n")
    result = shaker("install", "--simulate", cwd=tmp_path, env={"SHAKER_GIT_TIMEOUT": "nan"})
    assert (result.code, result.err) == (2, "salt-shaker: SHAKER_GIT_TIMEOUT: 'git_timeout' has the value 'nan'; use a finite number.\n"), result


@pytest.mark.parametrize(
    ("config", "pillar", "arguments", "origin"),
    [
        ({"jobs": 0}, {}, {}, "the 'shaker' config"),
        ({"jobs": 2}, {"jobs": 0}, {}, "the 'shaker' pillar"),
        ({}, {"jobs": 2}, {"jobs": 0}, "the arguments"),
        ({"allowed_sources": []}, {}, {}, "the 'shaker' config"),
    ],
)
def test_salt_names_config_pillar_or_arguments(tmp_path: Path, config: dict, pillar: dict, arguments: dict, origin: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from({"root_dir": str(tmp_path), **config}, pillar, arguments, trigger="runner")
    assert str(caught.value).startswith(f"{origin}: '")
    assert ("'jobs'" in str(caught.value)) is ("jobs" in {**config, **pillar, **arguments} and "allowed_sources" not in config)
