"""The shapes of what every command returns: plain dicts, so Salt can carry them, typed so the code that builds and reads them agrees.

A use case returns one of these families; the command line prints it, a runner
returns it as the job's data, a state reads its ``served_changes``, and events,
deploy records and notifications copy parts of it. ``Report`` is any of them.
"""
from __future__ import annotations

from typing import Any, Literal, Mapping, TypedDict

ChangeKind = Literal["added", "removed", "moved"]


class PinData(TypedDict):
    """A formula at a ref, and the commit it named (None for a lock line written without one)."""

    ref: str
    commit: str | None


class ChangeData(TypedDict):
    """One formula that is added, removed or moved (in the lock, or in what is served)."""

    kind: ChangeKind
    old: PinData | None
    new: PinData | None


class TreeData(TypedDict):
    """Served paths that are not what git holds, and formulas that could not be checked."""

    edited: list[str]
    added: list[str]
    deleted: list[str]
    unverified: list[str]


class _Outcome(TypedDict):
    command: str
    success: bool


class _PublishFields(_Outcome):
    simulate: bool
    root_dir: str
    saltenv: str | None
    changes: dict[str, ChangeData]
    served_changes: dict[str, ChangeData]
    lock_changed: bool
    release: str | None
    previous_release: str | None
    published: bool
    repaired: TreeData | None
    module_dirs_changed: bool
    formulas: dict[str, PinData]
    warnings: list[str]


class PublishReport(_PublishFields, total=False):
    """install, update, install_pinned, sync, check: the plan, and whether it was applied."""

    pending: bool  # check: the lock would change
    notifications: list[dict[str, Any]]
    project_commit: str | None  # a sync: the project repository commit it deployed
    project_signer: str | None  # a sync under 'trust': who signed that commit
    signed_by: dict[str, str]  # formula -> who signed it, for formulas 'trust' covers
    branch: str  # a sync of environments from branches: the branch deployed
    push: dict[str, Any]  # a webhook's push that caused it
    runs: int  # coalesced syncs: how many ran for this trigger


class _StatusFields(_Outcome):
    root_dir: str
    saltenv: str | None
    lock_file: str
    release: str | None
    formulas: dict[str, PinData | None]
    in_sync: bool
    differences: dict[str, dict[str, PinData | None]]
    tree: TreeData
    releases: list[str]


class StatusReport(_StatusFields, total=False):
    """What is served against the lock; gitops adds the last deploy and the project branch."""

    deploy: dict[str, Any] | None
    suspended: dict[str, Any] | None
    project: dict[str, Any]


class OutdatedRow(TypedDict):
    formula: str
    locked: str
    wanted: str | None
    latest: str | None
    outdated: bool


class OutdatedReport(_Outcome):
    root_dir: str
    formulas: list[OutdatedRow]
    pending: bool


class WhyReport(_Outcome):
    formula: str
    locked: str
    chains: list[list[dict[str, Any]]]
    lines: list[str]


class GraphReport(_Outcome):
    format: str
    lines: list[str]


class _FailureFields(_Outcome):
    retcode: int
    error: str
    message: str


class FailureReport(_FailureFields, total=False):
    """A run that failed: what the error said, and its data (a conflict's causes)."""

    data: dict[str, Any]
    push: dict[str, Any]
    runs: int
    saltenv: str | None  # the environment that failed, when a command ran several
    branch: str
    project_commit: str | None
    project_signer: str | None


class NoRunReport(_Outcome, total=False):
    """A sync that did not run: an ignored push, a suspended root, or a trigger left to the sync in progress."""

    ignored: bool
    suspended: bool
    coalesced: bool
    changes: dict[str, ChangeData]
    comment: str
    outdated: list[str]  # an ignored formula push: formulas that have news (auto_update is off)
    push: dict[str, Any]
    runs: int


SyncReport = PublishReport | FailureReport | NoRunReport


class ReleaseRow(TypedDict):
    release: str
    created: float | None
    current: bool
    formulas: dict[str, str | None]


class HistoryReport(_Outcome):
    current: str | None
    releases: list[ReleaseRow]
    deploys: list[dict[str, Any]]


class RollbackReport(_Outcome):
    published: bool
    release: str
    previous_release: str | None
    module_dirs_changed: bool
    served_changes: dict[str, ChangeData]
    root_dir: str
    formulas: dict[str, PinData]
    comment: str


class SuspensionReport(_Outcome, total=False):
    """suspend and resume."""

    suspended: dict[str, Any]
    was_suspended: dict[str, Any] | None  # the suspension that resume ended
    comment: str




class _EnvironmentsFields(_Outcome):
    environments: dict[str, Any]  # saltenv -> that environment's report (a SyncReport or StatusReport, with its branch)
    warnings: list[str]


class EnvironmentsReport(_EnvironmentsFields, total=False):
    """A command over several saltenvs (environments from branches, or every declared one): each one's own report."""

    removed: list[str]  # saltenvs whose branch is gone: no longer served
    retcode: int  # the first failed environment's exit code
    in_sync: bool  # status
    runs: dict[str, int]
    push: dict[str, Any]
    coalesced: bool
    comment: str


def environments_report(command: str, reports: dict[str, Any], warnings: list[str]) -> EnvironmentsReport:
    """Several saltenvs' reports as one: successful when all are, with the first failed one's exit code."""
    failed = [report for report in reports.values() if report.get("success") is False]
    summary: EnvironmentsReport = {"command": command, "success": not failed, "environments": reports, "warnings": warnings}
    if failed:
        summary["retcode"] = failed[0]["retcode"]
    return summary


Report = (PublishReport | StatusReport | OutdatedReport | WhyReport | GraphReport | HistoryReport | RollbackReport | SuspensionReport
          | FailureReport | NoRunReport | EnvironmentsReport)
AnyReport = Mapping[str, Any]  # what a reader of any family (the command line, events, records) takes
