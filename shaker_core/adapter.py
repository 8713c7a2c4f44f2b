"""What the Salt faces share, without importing salt.

Settings come from the ``shaker:`` mapping of the master or minion config, then
pillar, then the function or state arguments; later wins. A face makes one
:func:`call` and turns a :class:`ShakerError` into its own failure form.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from . import api, gitops, release_file
from .errors import ConfigError, ShakerError, filesystem_mistakes
from .settings import Settings

SETTING_NAMES = (frozenset(Settings.__dataclass_fields__) | {"project"}) - {"trigger", "project_commit"}
COMMANDS: dict[str, Callable[..., api.Report]] = {
    "install": api.install,
    "install_pinned": api.install_pinned,
    "update": api.update,
    "check": api.check,
    "status": gitops.status,
    "outdated": api.outdated,
    "sync": api.sync,
    "sync_project": gitops.sync,
    "webhook": gitops.on_push,
    "reconcile": gitops.reconcile,
    "history": gitops.history,
    "rollback": gitops.rollback,
    "suspend": gitops.suspend,
    "resume": gitops.resume,
}
__all__ = ["COMMANDS", "ShakerError", "call", "loadable", "published_reports", "run", "served_release", "settings_from", "state_changes"]
served_release = release_file.parse
RELEASE_URL = f"salt://{release_file.PATH}"
_NO_PROGRESS = frozenset({"status", "sync_project", "webhook", "reconcile", "history", "rollback", "suspend", "resume"})


def loadable(virtualname: str) -> str | tuple[bool, str]:
    """What a Salt face's ``__virtual__`` returns: its name, or False and why it cannot load."""
    from .gitobjects import check_pygit2

    reason = check_pygit2()
    return (False, f"salt-shaker cannot load: {reason}.") if reason else virtualname


def settings_from(config: Any, pillar: Any, arguments: Mapping[str, Any], trigger: str) -> Settings:
    """Merge config, pillar and arguments (later wins) into Settings."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, layer in (("the 'shaker' config", config), ("the 'shaker' pillar", pillar)):
        if layer is None:
            continue
        if not isinstance(layer, Mapping):
            raise ConfigError(f"{origin} must be a mapping of settings, not {type(layer).__name__}.")
        found = {k: v for k, v in layer.items() if k in SETTING_NAMES}
        merged.update(found)
        origins.update(dict.fromkeys(found, origin))
    given = {k: v for k, v in arguments.items() if k in SETTING_NAMES and v is not None}
    merged.update(given)
    origins.update(dict.fromkeys(given, "the arguments"))
    if not merged.get("root_dir"):
        raise ConfigError("No root_dir: pass root_dir=<project directory> or set 'shaker: {root_dir: ...}' in the config or pillar.")
    merged["trigger"] = trigger
    return Settings.from_mapping(merged, origin="shaker settings", origins=origins)


def call(command: str, config: Any, pillar: Any, arguments: Mapping[str, Any], *, trigger: str, salt_version: str,
         progress: api.Progress | None = None, dependencies: list[Any] | None = None, **command_arguments: Any) -> api.Report:
    """A face's one call: its config, pillar and arguments (Salt's own ``__``-keys dropped) become Settings, then ``command`` runs."""
    given = {key: value for key, value in arguments.items() if not key.startswith("__")}
    settings = settings_from(config, pillar, {**given, "salt_version": salt_version}, trigger)
    return run(command, settings, progress, dependencies, **command_arguments)


def run(command: str, settings: Settings, progress: api.Progress | None = None, dependencies: list[Any] | None = None, **arguments: Any) -> api.Report:
    """Call one use case by name; ``dependencies`` (the state's argument) stands for the project's metadata.yml."""
    function = COMMANDS[command]
    with filesystem_mistakes():
        if dependencies is not None:
            arguments["project"] = api.project_from_dependencies(dependencies, settings)
        if command in _NO_PROGRESS:
            return function(settings, **arguments)
        return function(settings, progress=progress, **arguments)


def published_reports(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The reports of what a run published: the run's own, or each environment's that published."""
    if report.get("published"):
        return [report]
    return [each for each in (report.get("environments") or {}).values() if each.get("published")]


def state_changes(report: Mapping[str, Any]) -> dict[str, Any]:
    """``{formula: {old: tag, new: tag}}`` of what is served, the shape Salt states return, plus ``repaired`` paths when a damaged tree was rebuilt."""
    changes: dict[str, Any] = {
        name: {"old": (change["old"] or {}).get("ref"), "new": (change["new"] or {}).get("ref")}
        for name, change in report.get("served_changes", {}).items()
    }
    repaired = {kind: paths for kind, paths in (report.get("repaired") or {}).items() if paths and kind != "unverified"}
    if repaired:
        changes["repaired"] = repaired
    return changes
