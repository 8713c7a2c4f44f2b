"""``salt-shaker``: the command line over :mod:`shaker_core.api`.

Exit codes: 0 success (and, for ``check``, nothing pending); 1 ``check`` found
changes; 2 usage; 3 manifest or lock error; 4 resolution conflict; 5 git or
network error; 6 layout or lock held; 7 suspended; 8 not signed as
``trust`` requires; 70 internal error.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import __version__, api, gitops, interrupts
from .errors import ConfigError, ShakerError, UsageError, filesystem_mistakes
from .history_text import history_lines
from .manifest import load_yaml
from .progress import Counts, RunProgress
from .reports import AnyReport, Report
from .settings import Settings
from .userfiles import read_user_file
from .yamlsafe import DEFAULT_MAX_BYTES

log = logging.getLogger("shaker_core")

COMMANDS = {
    "install": "resolve metadata.yml to the newest allowed versions, write the lock, publish",
    "install-pinned-versions": "publish exactly what formula-requirements.txt pins",
    "check": "show what install would change; exit 1 when the lock would change",
    "update": "move the named formulas (all when none) to the newest allowed versions",
    "status": "show what vendor/_root serves against the lock",
    "outdated": "list locked formulas with newer tags; exit 1 when anything could move",
    "why": "show every chain of requirements that brings a formula in",
    "graph": "print the resolved dependency graph (text tree, or --format dot)",
    "sync": "fetch the project repository and deploy it: every environment from its branches, or the SALTENVs named",
    "history": "list the releases kept for rollback and the recent deploys (time, trigger, project commit, release, outcome)",
    "rollback": "serve the release before the current one again (or RELEASE), atomically",
}
ENV_PREFIX = "SHAKER_"
CONFIG_FILE = "shaker.yml"
FILE_SETTINGS = ("cache_dir", "source_template", "jobs", "remote_check", "keep_releases", "offline", "credentials",
                 "lock_timeout", "git_timeout", "max_formulas", "max_resolution_rounds", "max_manifest_bytes", "max_formula_bytes",
                 "saltenv", "salt_version", "strict_minimum_version", "allowed_sources", "project",
                 "trust", "require_trust", "metrics_file")
MAPPING_SETTINGS = ("credentials", "trust")  # only shaker.yml holds these (paths and secrets, not one-line values)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    args = _parser().parse_args(argv)
    _configure_logging(args)
    try:
        with filesystem_mistakes():
            settings = load_settings(args)
        with interrupts.handled():
            report = _run(args, settings)
    except interrupts.Interrupted as exc:
        return _failed(args, exc.exit_code, "interrupted", "interrupted; the served release and the lock are as they were.")
    except ShakerError as exc:
        log.debug("failed", exc_info=True)
        return _failed(args, exc.exit_code, exc.kind, exc.message, exc.data)
    except KeyboardInterrupt:  # before the handlers are installed
        return _failed(args, 130, "interrupted", "interrupted; nothing half-done is served.")
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback only with --debug
        if args.debug:
            traceback.print_exc()
        return _failed(args, 70, "internal", f"internal error: {exc!r}; run again with --debug and report it.")
    try:
        _print(report, args.json)
    except BrokenPipeError:
        sys.stderr.close()
    if report.get("success") is False:
        code = report.get("retcode")
        return code if isinstance(code, int) and code else 1
    return 1 if report.get("pending") else 0


def _sync(settings: Settings, saltenvs: Sequence[str]) -> Report:
    if not settings.project_source:
        raise UsageError("sync deploys the project repository, and none is configured; set 'project: {source: <URL>, branches: [...]}' "
                         "in shaker.yml (or use install-pinned-versions for the project directory itself).")
    return gitops.sync(settings, trigger="cli", saltenvs=saltenvs)


def _run(args: argparse.Namespace, settings: Settings) -> Report:
    progress = _progress_printer() if sys.stderr.isatty() and not args.json else None
    commands: dict[str, Callable[[], Report]] = {
        "install": lambda: api.install(settings, progress),
        "install-pinned-versions": lambda: api.install_pinned(settings, progress),
        "check": lambda: api.check(settings, progress),
        "update": lambda: api.update(settings, list(args.names), progress),
        "status": lambda: gitops.status(settings) if settings.branch_environments else api.status(settings),
        "outdated": lambda: api.outdated(settings, progress),
        "why": lambda: api.why(settings, args.name),
        "graph": lambda: api.graph(settings, args.format),
        "sync": lambda: _sync(settings, args.saltenvs),
        "history": lambda: gitops.history(settings),
        "rollback": lambda: gitops.rollback(settings, release=args.release),
    }
    try:
        with filesystem_mistakes():
            return commands[args.command]()
    finally:
        _clear_progress(progress)


# -- arguments and settings --


def _common_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--root_dir", "--root-dir", dest="root_dir", default=default, metavar="DIR",
                        help="project directory holding metadata.yml, formula-requirements.txt and vendor/ (default: .)")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("--verbose", "-v", action="store_true", default=default, help="log what is done (info)")
    verbosity.add_argument("--debug", action="store_true", default=default, help="log everything, show tracebacks")
    parser.add_argument("--simulate", "-s", action="store_true", default=default, help="do everything but write the lock, the release or _root")
    parser.add_argument("--enable-remote-check", "-r", dest="remote_check", action="store_true", default=default,
                        help="fetch every source and accept tags that moved")
    parser.add_argument("--offline", action="store_true", default=default, help="never touch the network; use the cache only")
    parser.add_argument("--jobs", "-j", type=int, default=default, metavar="N", help="fetch N sources at once (default 8)")
    parser.add_argument("--cache-dir", dest="cache_dir", default=default, metavar="DIR", help="where mirrors live (default vendor/cache)")
    parser.add_argument("--source-template", dest="source_template", default=default, metavar="TEMPLATE",
                        help="URL for org/name, like https://git.example.com/{org}/{name}.git")
    parser.add_argument("--saltenv", default=default, metavar="ENV", help="the environment to install when metadata.yml declares 'environments:'")
    parser.add_argument("--json", action="store_true", default=default, help="print the report as JSON")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salt-shaker", description="Resolve, pin and publish Salt formula dependencies from git.")
    parser.add_argument("--version", action="version", version=f"salt-shaker {__version__}")
    _common_flags(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in COMMANDS.items():
        command = sub.add_parser(name, help=text, description=text)
        _common_flags(command, argparse.SUPPRESS)
        if name == "update":
            command.add_argument("names", nargs="*", metavar="NAME", help="formulas to move, like org/users-formula")
        if name == "why":
            command.add_argument("name", metavar="NAME", help="a formula, like org/users-formula")
        if name == "sync":
            command.add_argument("saltenvs", nargs="*", metavar="SALTENV", help="environments to deploy (default: all)")
        if name == "rollback":
            command.add_argument("release", nargs="?", metavar="RELEASE", help="a kept release id (default: the one before the current)")
        if name == "graph":
            command.add_argument("--format", choices=("text", "dot"), default="text", help="text tree (default) or Graphviz DOT")
    return parser


def load_settings(args: argparse.Namespace) -> Settings:
    """shaker.yml, then SHAKER_* environment variables, then flags; later wins, and each message names its source."""
    root = Path(args.root_dir or os.environ.get(f"{ENV_PREFIX}ROOT_DIR") or ".")
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    layers = (
        (_file_settings(root / CONFIG_FILE), lambda name: CONFIG_FILE),
        (_env_settings(), lambda name: f"{ENV_PREFIX}{name.upper()}"),
        ({k: v for k, v in vars(args).items() if k in Settings.__dataclass_fields__ and v is not None and v is not False}, lambda name: f"--{name.replace('_', '-')}"),
    )
    for layer, origin_of in layers:
        merged.update(layer)
        origins.update({name: origin_of(name) for name in layer})
    if getattr(args, "cache_dir", None):
        merged["cache_dir"] = Path(args.cache_dir).absolute()  # a path given on the command line is relative to the current directory
    merged["root_dir"] = root
    return Settings.from_mapping(merged, origin="settings", origins=origins)


def _file_settings(path: Path) -> dict[str, Any]:
    data = read_user_file(path, DEFAULT_MAX_BYTES, ConfigError, "max_manifest_bytes")
    if data is None:
        return {}
    document = load_yaml(data, path.name)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise UsageError(f"{path.name} must be a mapping of settings, like 'source_template: https://git.example.com/{{org}}/{{name}}.git'.")
    for key in document:
        if key not in FILE_SETTINGS:
            log.warning("%s: unknown setting '%s' is ignored.", path.name, key)
    return {k: v for k, v in document.items() if k in FILE_SETTINGS}


def _env_settings() -> dict[str, Any]:
    found = {}
    for name in FILE_SETTINGS:
        value = os.environ.get(f"{ENV_PREFIX}{name.upper()}")
        if value is not None and name not in MAPPING_SETTINGS:
            found[name] = value
    return found


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)


# -- output --


def _progress_printer() -> RunProgress:
    """One line on stderr, redrawn at most ten times a second (and for every finished fetch or new export)."""
    last = [0.0]

    def show(counts: Counts) -> None:
        now = time.monotonic()
        if counts.change == "received" and now - last[0] < 0.1:
            return
        last[0] = now
        sys.stderr.write("\r\033[K" + counts.line())
        sys.stderr.flush()

    return RunProgress(show)


def _clear_progress(progress: RunProgress | None) -> None:
    if progress is not None and progress.counts.known:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


_REPORTED_AS = {"install-pinned-versions": "install_pinned"}  # what a successful report calls the command


def _failed(args: argparse.Namespace, code: int, kind: str, message: str, data: Mapping[str, Any] | None = None) -> int:
    """Say why the run failed: one line on stderr, and with --json a document on stdout, so scripts never parse stderr."""
    print(f"salt-shaker: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        document = {"command": _REPORTED_AS.get(args.command, args.command), "success": False, "retcode": code, "error": kind, "message": message, "data": dict(data or {})}
        print(json.dumps(document, indent=2, sort_keys=True, default=str))
    return code


def _print(report: AnyReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return
    for line in format_report(report):
        print(line)


def format_report(report: AnyReport) -> list[str]:
    """Human lines: one per formula that changed, then a summary; for several saltenvs, each one's lines after its name."""
    if "environments" in report:
        return _format_environments(report)
    if report.get("success") is False:
        return [f"failed: {report['message']}"]
    if report.get("coalesced") or report.get("ignored") or report.get("suspended") is True:
        return [report["comment"]]
    if report["command"] == "status":
        return _format_status(report)
    if report["command"] in ("why", "graph"):
        return list(report["lines"])
    if report["command"] == "outdated":
        return _format_outdated(report)
    if report["command"] == "history":
        return history_lines(report)
    if report["command"] == "rollback":
        return [report["comment"]]
    # what moves in what the master serves; for check, what would move in the lock
    changes = report["changes"] if report["command"] == "check" else report.get("served_changes", report["changes"])
    lines = [f"{name}: {_ref(change['old'])} -> {_ref(change['new'])}" for name, change in changes.items()]
    lines += [f"warning: {warning}" for warning in report.get("warnings", [])]
    repaired = report.get("repaired") or {}
    lines += [f"repaired: {path} ({kind} in the served tree; now as git holds it)" for kind in ("edited", "added", "deleted") for path in repaired.get(kind, [])]
    lines.append(_summary(report))
    return lines


def _format_environments(report: AnyReport) -> list[str]:
    lines = [f"warning: {warning}" for warning in report.get("warnings", [])]
    for saltenv, each in report["environments"].items():
        branch = f" (branch {each['branch']})" if each.get("branch") else ""
        lines.append(f"[{saltenv}]{branch}")
        lines += [f"  {line}" for line in format_report(each)]
    lines += [f"[{saltenv}] removed: its branch is gone, and vendor/_root/{saltenv} with it" for saltenv in report.get("removed", [])]
    if report.get("comment"):
        lines.append(report["comment"])
    if "in_sync" in report:
        lines.append("Every environment is in sync." if report["in_sync"] else "Out of sync: run `salt-shaker sync`.")
    elif report.get("success") is False:
        failed = sorted(name for name, each in report["environments"].items() if each.get("success") is False)
        lines.append(f"Failed in {', '.join(failed)}; the others deployed, and each failed one keeps serving its last good release.")
    return lines


def _ref(item: Mapping[str, Any] | None) -> str:
    if item is None:
        return "(none)"
    commit = item.get("commit") or ""
    return f"{item['ref']} ({commit[:12]})" if commit and commit != item["ref"] else item["ref"]


def _summary(report: AnyReport) -> str:
    count = len(report["formulas"])
    if report["command"] == "check":
        return "The lock would change; run `salt-shaker install`." if report["pending"] else f"Up to date: the lock already pins the newest allowed versions of {count} formulas."
    if report["simulate"]:
        return f"Simulated: would publish release {report['release']} with {count} formulas; nothing was written."
    served = f"vendor/_root/{report['saltenv']}" if report.get("saltenv") else "vendor/_root"
    if report["published"]:
        return f"Published release {report['release']} with {count} formulas at {report['root_dir']}/{served}."
    return f"Nothing to do: {served} already serves release {report['release']} ({count} formulas)."


def _format_outdated(report: AnyReport) -> list[str]:
    rows = [("formula", "locked", "wanted", "latest")]
    rows += [(r["formula"], r["locked"], r["wanted"] or "-", r["latest"] or "-") for r in report["formulas"] if r["outdated"]]
    if len(rows) == 1:
        return [f"All {len(report['formulas'])} locked formulas are at their newest tags."]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def _format_status(report: AnyReport) -> list[str]:
    lines = _project_lines(report)
    if not report["release"]:
        return [*lines, "Nothing is served yet: run `salt-shaker install` or `salt-shaker install-pinned-versions`."]
    lines += [f"{name}: {_ref(item)}" for name, item in report["formulas"].items()]
    lines.append(f"Serving release {report['release']}.")
    for name, diff in report["differences"].items():
        lines.append(f"drift: {name} pinned {_ref(diff['pinned'])}, served {_ref(diff['served'])}")
    for kind in ("edited", "added", "deleted"):
        lines += [f"drift: {path} {kind} (not what git holds)" for path in report["tree"][kind]]
    if report["tree"]["unverified"]:
        lines.append(f"not verified (no cached mirror): {', '.join(report['tree']['unverified'])}")
    lock = report.get("lock_file", "formula-requirements.txt")
    command = "salt-shaker sync" if report.get("project") else (
        f"salt-shaker --saltenv {report['saltenv']} install-pinned-versions" if report.get("saltenv") else "salt-shaker install-pinned-versions")
    lines.append(f"In sync with {lock}." if report["in_sync"] else f"Out of sync: run `{command}`.")
    return lines


def _project_lines(report: AnyReport) -> list[str]:
    """The project branch head against what is deployed, and the last deploy when it failed."""
    project, deploy = report.get("project"), report.get("deploy")
    lines = []
    if project:
        head, deployed = (project.get("head") or "(gone)")[:12], (project.get("deployed") or "(none)")[:12]
        lines.append(f"project branch {project.get('branch') or '(gone)'}: head {head}, deployed {deployed}")
    if deploy and deploy.get("success") is False:
        lines.append(f"last deploy failed: {deploy.get('message')}")
    return lines


def entry() -> None:
    """The ``salt-shaker`` script: exit with ``main()``'s code; after an interrupt, without waiting on fetch threads."""
    code = main()
    if interrupts.requested():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # a fetch blocked on a silent remote would hold a normal exit until its timeout
    sys.exit(code)


if __name__ == "__main__":
    entry()
