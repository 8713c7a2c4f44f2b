"""The ``salt.loader`` entry point: where Salt finds the shaker runner, module and state."""
from __future__ import annotations

import importlib.util

_PACKAGES = {"runners": "shaker_runners", "modules": "shaker_modules", "states": "shaker_states"}


def loader_dirs() -> dict[str, list[str]]:
    """Directories of the installed Salt faces, keyed by loader type (works for editable installs)."""
    found: dict[str, list[str]] = {}
    for kind, package in _PACKAGES.items():
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            found[kind] = list(spec.submodule_search_locations)
    return found
