"""GitOps: the master serves what version control says.

A sync fetches the project repository (``project_source``, branch
``project_branch``), publishes its tree as the project directory
(``vendor/_project``, switched atomically), then installs the pinned formulas
from its lock. Pushes (verified webhooks) and a schedule trigger syncs; bursts
coalesce so two syncs never overlap and the last push is never lost.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import api, deploys, envsync, lockfile, metrics, provenance, records
from .coalesce import EVERYTHING, coalesced
from .environments import environments_of
from .errors import GitError, LayoutError, ShakerError, UsageError
from .reports import (
    EnvironmentsReport,
    HistoryReport,
    NoRunReport,
    PinData,
    ReleaseRow,
    RollbackReport,
    StatusReport,
    SuspensionReport,
    SyncReport,
)
from .settings import Settings
from .vendor import Vendor
from .webhook import Push, WebhookSettings, parse, raw_parts, repository_key, verify

log = logging.getLogger(__name__)



# -- syncing --


def sync(settings: Settings, trigger: str | None = None, delivery: str | None = None, saltenvs: Sequence[str] = ()) -> SyncReport | EnvironmentsReport:
    """Publish the project repository's branch head (each matching branch, with environments from branches) and install its lock.

    Coalesced and suspendable. ``saltenvs`` names the environments from branches to deploy (default: all).
    """
    if saltenvs and not settings.branch_environments:
        raise UsageError(f"saltenvs ({', '.join(saltenvs)}) were named, but the project does not take its environments from branches; "
                         "set shaker:project:branches, or name none.")
    vendor = api.vendor_for(replace(settings, saltenv=None))
    suspension = records.suspended(vendor.path)
    if suspension:
        return _suspended("sync", suspension)
    trigger = trigger or settings.trigger
    labelled = replace(settings, trigger=f"{trigger}:{delivery}" if delivery else trigger)
    if settings.branch_environments:
        return envsync.sync(labelled, saltenvs)
    return _coalesced(labelled, vendor.path, lambda: _sync_once(labelled))


def reconcile(settings: Settings) -> SyncReport | EnvironmentsReport:
    """What a schedule runs: the same as a push to every tracked source (every environment)."""
    report = sync(settings, trigger="schedule")
    report["command"] = "reconcile"
    return report


def _sync_once(settings: Settings) -> SyncReport:
    started = time.time()
    try:
        project_commit, signer = publish_project(settings) if settings.project_source else (None, None)
    except ShakerError as exc:
        # The project repository could not be published (or its head is not signed as trust requires): a failed deploy too.
        deploys.record_deploy(replace(settings, project_commit=exc.data.get("commit")), started, exc.failure("sync"))
        raise
    try:
        report = api.install_pinned(replace(settings, project_commit=project_commit, project_signer=signer))
    except ShakerError:
        _restore_project(settings)
        raise
    report["command"] = "sync"
    report["project_commit"] = project_commit
    report["project_signer"] = signer
    return report


def _restore_project(settings: Settings) -> None:
    """After a failed install, point vendor/_project back at the project commit that is served, so the
    lock that status and formula pushes read is the one behind the release that still serves."""
    deploy = records.newest_deploy(api.vendor_for(settings).path, good=True, any_saltenv=True)
    served = (deploy or {}).get("project_commit")
    if settings.project_source and served:
        api.vendor_for(settings).point_project(served)


def publish_project(settings: Settings) -> tuple[str, str | None]:
    """Fetch the project repository, verify its branch head under ``trust`` and switch ``vendor/_project`` to it; return the commit and its signer."""
    assert settings.project_source is not None
    vendor = api.vendor_for(settings)
    with api.git_cache(settings) as cache:
        head = cache.branches(settings.project_source).get(settings.project_branch)
        if head is None:
            raise GitError(f"The project repository has no branch '{settings.project_branch}'; set shaker:project:branch to the branch to deploy.")
        signer = provenance.attest_project(settings, cache, settings.project_branch, head)
        vendor.publish_project(head, lambda destination: cache.export(settings.project_source or "", head, destination))
    return head, signer


def _coalesced(settings: Settings, vendor: Path, run: Callable[[], SyncReport]) -> SyncReport:
    """Run ``run`` now, or leave it to the sync in progress; never two at once, never a lost trigger."""
    done, runs = coalesced(vendor, [EVERYTHING], lambda _: _attempt(run))
    if not done:  # the running sync took this trigger's mark, and runs after it
        metrics.write_metrics(settings)  # monitoring sees the trigger waiting
        return _coalesced_report()
    last = done[EVERYTHING]
    last["runs"] = runs[EVERYTHING]
    return last


def _coalesced_report() -> NoRunReport:
    return {"command": "sync", "success": True, "coalesced": True, "comment": "A sync is running; it will run once more for this trigger."}


def _attempt(run: Callable[[], SyncReport]) -> SyncReport:
    try:
        return run()
    except ShakerError as exc:
        log.warning("sync failed: %s", exc.message)
        return exc.failure("sync")


# -- pushes --


def on_push(settings: Settings, webhook: Mapping[str, Any] | None, event_data: Mapping[str, Any]) -> SyncReport | EnvironmentsReport:
    """Verify a webhook event, then sync what it names (or say why it is ignored)."""
    headers, body = raw_parts(event_data)
    provider = verify(headers, body, WebhookSettings.from_mapping(webhook))
    push = parse(provider, headers, body)
    if not push.is_push:
        return _ignored(push, f"'{push.event}' is not a push")
    keys = {repository_key(url) for url in push.repository_urls}
    if settings.project_source and repository_key(settings.project_source) in keys and settings.branch_environments:
        return _branch_push(settings, push)
    if settings.project_source and repository_key(settings.project_source) in keys:
        if push.branch != settings.project_branch:
            return _ignored(push, f"the push is to {push.ref or 'no ref'}, and the project branch is {settings.project_branch}")
        return _with_push(sync(settings, trigger="webhook", delivery=push.delivery), push)
    return _formula_push(settings, push, keys)


def _branch_push(settings: Settings, push: Push) -> SyncReport | EnvironmentsReport:
    """A push to one branch deploys that branch's environment only (or removes it, when the push deleted the branch)."""
    branch = push.branch or ""
    found, _ = environments_of({branch: ""}, settings.project_branches, settings.project_base) if branch else ([], [])
    if not found:
        return _ignored(push, f"the push is to {push.ref or 'no ref'}, which is no environment (branches: {', '.join(settings.project_branches)}; "
                              f"base: {settings.project_base})")
    return _with_push(sync(settings, trigger="webhook", delivery=push.delivery, saltenvs=[found[0].saltenv]), push)


def _formula_push(settings: Settings, push: Push, keys: set[str]) -> SyncReport | EnvironmentsReport:
    if settings.branch_environments:
        return _formula_push_to_branches(settings, push, keys)
    lock = lockfile.read(settings.lock_path)
    entry = next((e for e in lock.entries if repository_key(e.source or settings.default_source(e.name)) in keys), None)
    if entry is None:
        return _ignored(push, "the repository is neither the project repository nor a locked formula")
    if entry.kind == "branch" and push.branch != entry.ref or entry.kind == "tag" and not push.tag:
        return _ignored(push, f"{entry.name} is pinned to {entry.kind} {entry.ref}; this push does not change it")
    if not settings.auto_update:
        news = f"tag {push.tag}" if push.tag else "commit"
        ignored = _ignored(push, f"{entry.name} has a new {news}; it stays at {entry.ref} (shaker:auto_update is off)")
        ignored["outdated"] = [entry.name]
        return ignored
    vendor = api.vendor_for(settings)
    suspension = records.suspended(vendor.path)
    if suspension:
        return _suspended("update", suspension)
    moved = replace(settings, trigger=f"webhook:{push.delivery}" if push.delivery else "webhook")
    name = entry.name
    if entry.kind == "tag":
        return _with_push(_coalesced(moved, vendor.path, lambda: api.update(moved, [name])), push)
    return _with_push(_coalesced(moved, vendor.path, lambda: api.install_pinned(replace(moved, remote_check=True))), push)


def _formula_push_to_branches(settings: Settings, push: Push, keys: set[str]) -> SyncReport | EnvironmentsReport:
    """With environments from branches every lock lives in git: a formula's new branch commit re-syncs the saltenvs
    that pin that branch; a new tag is reported as outdated (change the branch's lock in git to move to it)."""
    vendor = api.vendor_for(replace(settings, saltenv=None))
    pinning = {}
    for saltenv in vendor.served_saltenvs():
        lock = lockfile.read(replace(settings, saltenv=saltenv).lock_path)
        entry = next((e for e in lock.entries if repository_key(e.source or settings.default_source(e.name)) in keys), None)
        if entry is not None:
            pinning[saltenv] = entry
    moved = sorted(env for env, entry in pinning.items() if entry.kind == "branch" and push.branch == entry.ref)
    if moved:
        return _with_push(sync(replace(settings, remote_check=True), trigger="webhook", delivery=push.delivery, saltenvs=moved), push)
    if not pinning:
        return _ignored(push, "the repository is neither the project repository nor a formula any environment's lock pins")
    ignored = _ignored(push, f"no environment pins {push.ref or 'this ref'} of it; each branch's lock in git decides what is served")
    if push.tag:
        ignored["outdated"] = sorted({entry.name for entry in pinning.values()})
    return ignored


def _with_push(report: SyncReport | EnvironmentsReport, push: Push) -> SyncReport | EnvironmentsReport:
    report["push"] = {"provider": push.provider, "ref": push.ref, "delivery": push.delivery}
    return report


def _ignored(push: Push, reason: str) -> NoRunReport:
    return {"command": "webhook", "success": True, "ignored": True, "comment": f"Ignored: {reason}.",
            "push": {"provider": push.provider, "event": push.event, "ref": push.ref, "delivery": push.delivery}}


def _suspended(command: str, suspension: Mapping[str, Any]) -> NoRunReport:
    return {"command": command, "success": True, "suspended": True, "changes": {},
            "comment": f"Syncing is suspended ({suspension.get('reason')}); run shaker.resume to sync again."}


# -- history, rollback, suspension --


def history(settings: Settings) -> HistoryReport:
    """The releases kept, newest first, and the recent deploys."""
    vendor = api.vendor_for(settings)
    current = vendor.current_id()
    releases: list[ReleaseRow] = [
        {"release": info.release, "created": info.created, "current": info.release == current,
         "formulas": {name: rec.get("ref") for name, rec in info.formulas.items()}}
        for info in vendor.history()
    ]
    return {"command": "history", "success": True, "current": current, "releases": releases,
            "deploys": records.read_deploys(vendor.path, limit=20)}


def rollback(settings: Settings, release: str | None = None) -> RollbackReport:
    """Switch ``_root`` back to ``release`` (default: the one before the current), atomically."""
    vendor = api.vendor_for(settings)
    with vendor.lock(settings.lock_timeout):
        current = vendor.current_id()
        target = release or _previous(vendor, current)
        if target is None or vendor.release_info(target) is None:
            kept = ", ".join(info.release for info in vendor.history()) or "none"
            raise LayoutError(f"There is no kept release {target or 'before ' + str(current)} to roll back to; kept releases: {kept}.")
        vendor.switch(target)
        info = vendor.release_info(target)
    metrics.write_metrics(settings)
    suspended = records.suspended(vendor.path)
    note = "Syncing is suspended, so it stays." if suspended else "The next sync (push or schedule) will move forward again; run shaker.suspend to keep it."
    return {"command": "rollback", "success": True, "published": True, "release": target, "previous_release": current,
            "module_dirs_changed": True, "served_changes": {}, "root_dir": str(settings.root),
            "formulas": {name: PinData(ref=rec.get("ref", ""), commit=rec.get("commit")) for name, rec in (info.formulas if info else {}).items()},
            "comment": f"Rolled back from {current} to {target}. {note}"}


def _previous(vendor: Vendor, current: str | None) -> str | None:
    releases = [info.release for info in vendor.history()]
    if current in releases:
        older = releases[releases.index(current) + 1:]
        return older[0] if older else None
    return releases[0] if releases else None


def suspend(settings: Settings, reason: str, by: str = "operator") -> SuspensionReport:
    """Make every sync a no-op until resume."""
    vendor = api.vendor_for(settings)
    record = records.suspend(vendor.path, reason or "no reason given", by)
    return {"command": "suspend", "success": True, "suspended": record}


def resume(settings: Settings) -> SuspensionReport:
    """Let syncs run again."""
    vendor = api.vendor_for(settings)
    was = records.resume(vendor.path)
    comment = "Syncing resumed; the next push or schedule syncs." if was else "Syncing was not suspended."
    return {"command": "resume", "success": True, "was_suspended": was, "comment": comment}


def status(settings: Settings) -> StatusReport | EnvironmentsReport:
    """What is served against the lock, the last deploy, and the project branch head (drift); every environment from branches."""
    if settings.branch_environments and not settings.saltenv:
        return envsync.status(settings)
    report = api.status(settings)
    vendor = api.vendor_for(settings)
    deploy = records.read_deploy(vendor.path)
    report["deploy"] = deploy
    report["suspended"] = records.suspended(vendor.path)
    if settings.project_source:
        head = _project_head(settings)
        # What is deployed is the project commit of the last deploy that succeeded, not of one that failed.
        good = records.newest_deploy(vendor.path, good=True, any_saltenv=True) or {}
        deployed = good.get("project_commit")
        report["project"] = {"branch": settings.project_branch, "head": head, "deployed": deployed, "signer": good.get("project_signer"),
                             "in_sync": head == deployed}
        report["in_sync"] = report["in_sync"] and head == deployed
    return report


def _project_head(settings: Settings) -> str | None:
    with api.git_cache(settings) as cache:
        return cache.branches(settings.project_source or "").get(settings.project_branch)
