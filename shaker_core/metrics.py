"""Prometheus metrics for node_exporter's textfile collector: ``metrics_file``, rewritten atomically after every run.

Everything is derived from what is on disk (the deploy log, the served releases,
the locks and the pending sync marks), so the counters survive restarts and two
runs that write at once both write the whole truth.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import coalesce, lockfile, records
from .atomic import write_atomic
from .errors import ShakerError
from .layout import ReleaseInfo
from .settings import Settings
from .vendor import Vendor

Sample = tuple[Mapping[str, str], float]
log = logging.getLogger(__name__)

FAMILIES = (  # name, type, help
    ("shaker_last_run_timestamp_seconds", "gauge", "When the last run of the saltenv finished (Unix time)."),
    ("shaker_last_run_duration_seconds", "gauge", "How long the last run of the saltenv took."),
    ("shaker_last_run_success", "gauge", "1 when the last run of the saltenv succeeded, else 0."),
    ("shaker_last_success_timestamp_seconds", "gauge", "When the last successful run of the saltenv finished (Unix time)."),
    ("shaker_formulas_served", "gauge", "How many formulas the saltenv's served release holds."),
    ("shaker_release_info", "gauge", "The release the saltenv serves and the project commit it deploys (always 1)."),
    ("shaker_drift", "gauge", "1 when what the saltenv serves is not what its lock file pins, else 0."),
    ("shaker_runs_total", "counter", "Runs that wrote a deploy record, by saltenv and outcome."),
    ("shaker_failures_total", "counter", "Failed runs, by saltenv and kind of error."),
    ("shaker_pending_syncs", "gauge", "Syncs triggered (a push, a schedule) and not yet run."),
)


def write_metrics(settings: Settings) -> None:
    """Rewrite ``settings.metrics_file`` (when set) from the deploy log and what is served; a failure to write is only logged."""
    if settings.metrics_file is None:
        return
    path = settings.metrics_file.expanduser()
    path = path if path.is_absolute() else settings.root / path
    try:
        text = render(collect(settings, settings.root / "vendor"))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
        os.chmod(path, 0o644)  # node_exporter usually runs as another user
    except OSError as exc:  # monitoring must never fail the run it describes
        log.warning("Could not write the metrics file %s: %s", path, exc.strerror or exc)


def collect(settings: Settings, vendor: Path) -> dict[str, list[Sample]]:
    """Every family's samples; a project serving one environment is saltenv ``base``, as Salt calls it."""
    deploys = records.read_deploys(vendor)
    served = set(Vendor(settings.root).served_saltenvs())
    saltenvs = sorted({record.get("saltenv") or "base" for record in deploys} | served)
    found: dict[str, list[Sample]] = {name: [] for name, _, _ in FAMILIES}
    for saltenv in saltenvs:
        label = {"saltenv": saltenv}
        _runs(found, label, [record for record in deploys if (record.get("saltenv") or "base") == saltenv])
        _served(found, label, replace(settings, saltenv=saltenv), saltenv in served)
    found["shaker_pending_syncs"].append(({}, float(len(coalesce.pending(vendor)))))
    return found


def _runs(found: dict[str, list[Sample]], label: Mapping[str, str], deploys: list[dict[str, Any]]) -> None:
    if not deploys:
        return
    last = deploys[-1]
    found["shaker_last_run_timestamp_seconds"].append((label, float(last.get("finished") or 0)))
    found["shaker_last_run_duration_seconds"].append((label, max(0.0, float(last.get("finished") or 0) - float(last.get("started") or 0))))
    found["shaker_last_run_success"].append((label, 1.0 if last.get("success") else 0.0))
    good = [record for record in deploys if record.get("success")]
    if good:
        found["shaker_last_success_timestamp_seconds"].append((label, float(good[-1].get("finished") or 0)))
    for outcome, count in (("success", len(good)), ("failure", len(deploys) - len(good))):
        found["shaker_runs_total"].append(({**label, "outcome": outcome}, float(count)))
    kinds = Counter(record.get("error") or "unknown" for record in deploys if not record.get("success"))
    for kind, count in sorted(kinds.items()):
        found["shaker_failures_total"].append(({**label, "kind": kind}, float(count)))


def _served(found: dict[str, list[Sample]], label: Mapping[str, str], settings: Settings, own_link: bool) -> None:
    """What the saltenv serves: from ``_root/<saltenv>`` when it has its own link, else from ``_root`` itself."""
    vendor = Vendor(settings.root, saltenv=settings.saltenv if own_link else None)
    release = vendor.current_id()
    info = vendor.release_info(release) if release else None
    found["shaker_formulas_served"].append((label, float(len(info.formulas) if info else 0)))
    if info is not None:
        commit = info.description.get("project_commit") or ""
        found["shaker_release_info"].append(({**label, "release": info.release, "project_commit": commit}, 1.0))
    found["shaker_drift"].append((label, 1.0 if _drifts(settings, info) else 0.0))


def _drifts(settings: Settings, info: ReleaseInfo | None) -> bool:
    """Whether what is served is not what the lock pins (an unreadable lock drifts; no lock at all does not)."""
    if not settings.lock_path.exists():
        return False
    try:
        lock = lockfile.read(settings.lock_path)
    except ShakerError:
        return True
    served = {name: (record.get("ref"), record.get("commit")) for name, record in (info.formulas if info else {}).items()}
    return served != {entry.name: (entry.ref, entry.commit) for entry in lock.entries}


def render(found: Mapping[str, Iterable[Sample]]) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    lines = []
    for name, kind, text in FAMILIES:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{_labels(labels)} {_number(value)}" for labels, value in found.get(name, ())]
    return "\n".join(lines) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    escaped = (f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return "{" + ",".join(escaped) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))
