"""Settings are converted by their field types: every field has a conversion, and a wrong value names the field."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from shaker_core import settings as settings_module
from shaker_core.errors import ConfigError
from shaker_core.settings import Settings

HANDLED = {Path, bool, int, float, str, tuple, settings_module.abc.Mapping}
# A value of the wrong type for each kind, and what the message then says.
WRONG = {
    bool: ("maybe", "use true or false"),
    int: ("eight", "use a whole number"),
    float: ("soon", "use a finite number"),
    str: (["a", "list"], "must be a string"),
}


def test_every_field_has_a_type_the_conversion_knows():
    unknown = {spec.name: settings_module._base_type(spec) for spec in fields(Settings) if settings_module._base_type(spec) not in HANDLED}
    assert unknown == {}


@pytest.mark.parametrize("spec", [spec for spec in fields(Settings) if settings_module._base_type(spec) in WRONG and "check" not in spec.metadata],
                         ids=lambda spec: spec.name)
def test_a_wrong_value_is_refused_naming_the_field_and_the_place(spec):
    value, expected = WRONG[settings_module._base_type(spec)]
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping({spec.name: value}, origin="shaker.yml")
    assert caught.value.message.startswith(f"shaker.yml: '{spec.name}' ") and expected in caught.value.message


@pytest.mark.parametrize("name", [spec.name for spec in fields(Settings) if settings_module._base_type(spec) is settings_module.abc.Mapping])
def test_a_mapping_setting_refuses_a_list_and_says_what_shape_it_wants(name):
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping({name: ["x"]}, origin="the 'shaker' pillar")
    assert caught.value.message.startswith(f"the 'shaker' pillar: '{name}' must be a mapping")


@pytest.mark.parametrize(("given", "expected"), [
    ({"jobs": "3", "offline": "yes", "git_timeout": "2.5", "cache_dir": "mirrors"}, {"jobs": 3, "offline": True, "git_timeout": 2.5, "cache_dir": Path("mirrors")}),
    ({"allowed_sources": "https://git.example.com/"}, {"allowed_sources": ("https://git.example.com/",)}),
    ({"salt_version": 3006.0}, {"salt_version": "3006.0"}),
])
def test_text_from_the_environment_and_yaml_numbers_convert_to_the_field_type(given, expected):
    settings = Settings.from_mapping(given)
    assert {name: getattr(settings, name) for name in expected} == expected


@pytest.mark.parametrize("name", ["jobs", "keep_releases", "max_formulas", "max_resolution_rounds", "max_manifest_bytes", "max_formula_bytes"])
def test_counts_must_be_at_least_one(name):
    with pytest.raises(ConfigError, match=rf"'{name}' must be at least 1, not 0\."):
        Settings.from_mapping({name: 0})


@pytest.mark.parametrize("name", ["lock_timeout", "git_timeout"])
def test_durations_must_be_above_zero(name):
    with pytest.raises(ConfigError, match=rf"'{name}' must be a number of seconds above 0, not 0.0\."):
        Settings.from_mapping({name: 0})
