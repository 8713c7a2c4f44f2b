"""Deploy records: every run that is not simulated writes one (success or failure) and sends what ``notify`` asks for."""
from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any, Callable, TypeVar

from . import metrics, notify, records
from .errors import ShakerError
from .reports import AnyReport, PublishReport
from .session import vendor_for
from .settings import Settings

log = logging.getLogger(__name__)

Published = TypeVar("Published", bound=PublishReport)


def deployed(use_case: Callable[..., Published]) -> Callable[..., Published]:
    """Write a deploy record (and send notifications) for every run that is not simulated."""

    @functools.wraps(use_case)
    def run(*args: Any, **kwargs: Any) -> Published:
        settings = next(arg for arg in args if isinstance(arg, Settings))
        if settings.simulate:
            return use_case(*args, **kwargs)
        started = time.time()
        try:
            report = use_case(*args, **kwargs)
        except ShakerError as exc:
            command = args[0] if isinstance(args[0], str) else use_case.__name__
            record_deploy(settings, started, exc.failure(command))
            raise
        record_deploy(settings, started, report)
        return report

    return run


def record_deploy(settings: Settings, started: float, report: AnyReport) -> None:
    """Write the deploy record of a run (success or failure) and send what ``notify`` asks for."""
    vendor = vendor_for(settings).path
    if not settings.root.is_dir() or (not report.get("published") and not os.access(vendor if vendor.is_dir() else settings.root, os.W_OK)):
        return  # a read-only project that nothing was written to: no record to keep
    record = {
        "command": report.get("command"),
        "trigger": settings.trigger,
        "saltenv": settings.saltenv,
        "project_commit": settings.project_commit,
        "project_signer": settings.project_signer,
        "started": started,
        "finished": time.time(),
        "success": bool(report.get("success")),
        "release": report.get("release"),
        "published": bool(report.get("published")),
        "formulas": report.get("formulas", {}),
        "message": report.get("message"),
        "error": report.get("error"),
        "pid": os.getpid(),
    }
    try:
        records.write_deploy(vendor, record)
    except OSError as exc:  # a full disk must not turn the run's own error into a traceback
        log.warning("Could not write the deploy record in %s: %s", vendor, exc.strerror or exc)
    metrics.write_metrics(settings)
    told = {**report, "trigger": settings.trigger, **({"project_signer": settings.project_signer} if settings.project_signer else {})}
    sent = notify.notify(settings.notify, vendor, told, settings.project_commit)
    if sent and isinstance(report, dict):
        report["notifications"] = sent
