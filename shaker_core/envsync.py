"""Environments from branches: each matching branch of the project repository is deployed as its own saltenv.

A round fetches the project repository once, maps its branches to saltenvs
(:mod:`shaker_core.environments`), and for each environment exports the branch
head as ``vendor/projects/<commit>`` (``vendor/_projects/<saltenv>`` points at
it) and installs that branch's lock at ``vendor/_root/<saltenv>``. Mirrors and
the store are shared, so a formula commit is fetched and exported once for all
environments. One environment failing leaves its last good release serving and
does not stop the others. A saltenv whose branch is gone stops being served.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Sequence

from . import api, deploys, metrics, provenance, records
from .coalesce import EVERYTHING, coalesced
from .environments import Environment, environments_of, saltenv_problem
from .errors import ShakerError, UsageError
from .git import GitCache
from .reports import EnvironmentsReport, StatusReport, SyncReport, environments_report
from .settings import Settings
from .vendor import Vendor

log = logging.getLogger(__name__)


def sync(settings: Settings, saltenvs: Sequence[str] = ()) -> EnvironmentsReport:
    """Deploy every environment (or the named ones), coalesced per environment with the syncs in progress."""
    for name in saltenvs:
        if problem := saltenv_problem(name):
            raise UsageError(f"'{name}' is not a saltenv name: {problem}.")
    vendor = _vendor(settings)
    done, runs = coalesced(vendor.path, list(saltenvs) or [EVERYTHING], lambda key: _round(settings, [] if key == EVERYTHING else [key]))
    if not done:
        metrics.write_metrics(settings)  # monitoring sees the trigger waiting
        return {"command": "sync", "success": True, "environments": {}, "warnings": [], "coalesced": True,
                "comment": "A sync is running; it will deploy these environments once more when it finishes."}
    merged = _merged(list(done.values()))
    merged["runs"] = runs
    return merged


def _round(settings: Settings, names: list[str]) -> EnvironmentsReport:
    vendor = _vendor(settings)
    # one cache for the round: each mirror is opened (and each served release checked) once for all environments
    with api.git_cache(settings, "always" if settings.remote_check else "missing") as cache:
        cache.refresh([settings.project_source or ""])  # the project repository is fetched on every round
        heads = cache.branches(settings.project_source or "")
        found, warnings = environments_of(heads, settings.project_branches, settings.project_base)
        by_name = {env.saltenv: env for env in found}
        reports: dict[str, Any] = {name: _deploy(settings, env, cache, vendor) for name, env in by_name.items() if not names or name in names}
    served = vendor.served_saltenvs()
    gone = [name for name in (names or served) if name not in by_name]
    removed = [name for name in gone if name in served]
    for name in gone:
        if name not in served:
            reports[name] = UsageError(f"No branch of the project repository is saltenv '{name}' (branches: "
                                       f"{', '.join(settings.project_branches)}; base: {settings.project_base}).").failure("sync")
    if removed:
        _remove(settings, vendor, removed)
    return _summary(reports, warnings, removed)


def _deploy(settings: Settings, env: Environment, cache: GitCache, vendor: Vendor) -> SyncReport:
    """Export the branch head and install its lock at ``vendor/_root/<saltenv>``; a failure is this environment's report."""
    deployed = replace(settings, saltenv=env.saltenv, project_branch=env.branch, project_commit=env.commit)
    started = time.time()
    report: SyncReport
    try:
        deployed = replace(deployed, project_signer=provenance.attest_project(settings, cache, env.branch, env.commit))
        vendor.publish_project(env.commit, lambda destination: cache.export(settings.project_source or "", env.commit, destination), env.saltenv)
    except ShakerError as exc:
        report = exc.failure("sync")
        deploys.record_deploy(deployed, started, report)  # a failed deploy too: recorded and notified
    else:
        try:
            report = api.install_pinned(deployed, cache=cache)  # records its own deploy
        except ShakerError as exc:
            report = exc.failure("sync")
            _restore_project(deployed, vendor)
    if report["success"] is False:
        log.warning("saltenv %s (branch %s) failed: %s", env.saltenv, env.branch, report.get("message"))
    report.update({"command": "sync", "saltenv": env.saltenv, "branch": env.branch, "project_commit": env.commit,
                   "project_signer": deployed.project_signer})
    return report


def _restore_project(settings: Settings, vendor: Vendor) -> None:
    """Point ``_projects/<saltenv>`` back at the project commit behind the release that still serves."""
    served = (records.newest_deploy(vendor.path, good=True, saltenv=settings.saltenv) or {}).get("project_commit")
    if served:
        vendor.point_project(served, settings.saltenv)
    elif settings.saltenv and settings.saltenv not in vendor.served_saltenvs():
        vendor.remove_environment(settings.saltenv)  # nothing of it ever served: no project link to keep


def _remove(settings: Settings, vendor: Vendor, saltenvs: list[str]) -> None:
    with vendor.lock(settings.lock_timeout):
        for name in saltenvs:
            log.info("saltenv %s: its branch is gone; it is no longer served", name)
            vendor.remove_environment(name)
        vendor.collect_garbage()


def _summary(reports: dict[str, Any], warnings: list[str], removed: list[str]) -> EnvironmentsReport:
    summary = environments_report("sync", dict(sorted(reports.items())), warnings)
    summary["removed"] = removed
    return summary


def _merged(rounds: list[EnvironmentsReport]) -> EnvironmentsReport:
    """Several rounds of one call (triggers that arrived meanwhile) as one report: the newest report of each saltenv."""
    environments: dict[str, Any] = {}
    removed: list[str] = []
    for round_ in rounds:
        environments.update(round_["environments"])
        removed += [name for name in round_.get("removed", []) if name not in removed]
        for name in round_.get("removed", []):
            environments.pop(name, None)
    return _summary(environments, list(dict.fromkeys(w for r in rounds for w in r["warnings"])), removed)


# -- status --


def status(settings: Settings) -> EnvironmentsReport:
    """Every environment: its branch, the branch head, the project commit deployed, the release, drift, and the last failure."""
    vendor = _vendor(settings)
    with api.git_cache(settings) as cache:
        heads = cache.branches(settings.project_source or "")
    found, warnings = environments_of(heads, settings.project_branches, settings.project_base)
    by_name = {env.saltenv: env for env in found}
    environments = {name: _environment_status(settings, vendor, name, by_name.get(name)) for name in sorted(set(by_name) | set(vendor.served_saltenvs()))}
    return {"command": "status", "success": True, "environments": environments, "warnings": warnings,
            "in_sync": all(report["in_sync"] for report in environments.values())}


def _environment_status(settings: Settings, vendor: Vendor, saltenv: str, env: Environment | None) -> StatusReport:
    report = api.status(replace(settings, saltenv=saltenv, project_branch=env.branch if env else saltenv))
    good = records.newest_deploy(vendor.path, good=True, saltenv=saltenv) or {}
    deployed = good.get("project_commit")
    last = records.newest_deploy(vendor.path, saltenv=saltenv)
    head = env.commit if env else None
    report["deploy"] = last
    report["project"] = {"branch": env.branch if env else None, "head": head, "deployed": deployed, "signer": good.get("project_signer"),
                         "in_sync": head == deployed}
    report["in_sync"] = report["in_sync"] and head == deployed and bool(last and last.get("success"))
    return report


def _vendor(settings: Settings) -> Vendor:
    return api.vendor_for(replace(settings, saltenv=None))
