"""Small state files beside the served tree (never inside it): deploy records and suspension.

``vendor/deploy.json`` is the last deploy, written atomically;
``vendor/deploys.jsonl`` appends one line per deploy; ``vendor/suspended.json``
exists while syncing is suspended.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .atomic import write_atomic

DEPLOY = "deploy.json"
DEPLOY_LOG = "deploys.jsonl"
SUSPENDED = "suspended.json"


def write_deploy(vendor: Path, record: dict[str, Any]) -> None:
    """Record one deploy: the latest (atomic replace) and the log (one appended line)."""
    vendor.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, sort_keys=True)
    write_atomic(vendor / DEPLOY, text + "\n")
    fd = os.open(vendor / DEPLOY_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


def read_deploy(vendor: Path) -> dict[str, Any] | None:
    """The last deploy record, or None."""
    try:
        return json.loads((vendor / DEPLOY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_deploys(vendor: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Deploy records, oldest first (the last ``limit`` of them)."""
    try:
        lines = (vendor / DEPLOY_LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = []
    for line in lines[-limit:] if limit else lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash mid-append
    return records


def newest_deploy(vendor: Path, *, good: bool = False, saltenv: str | None = None, any_saltenv: bool = False) -> dict[str, Any] | None:
    """The newest deploy record of ``saltenv`` (of any, with ``any_saltenv``); with ``good``, the newest that succeeded and names a project commit."""
    for record in reversed(read_deploys(vendor)):
        if (any_saltenv or record.get("saltenv") == saltenv) and (not good or (record.get("success") and record.get("project_commit"))):
            return record
    return None


def suspend(vendor: Path, reason: str, by: str) -> dict[str, Any]:
    """Make every sync a no-op until :func:`resume`."""
    record = {"reason": reason, "by": by, "since": time.time()}
    write_atomic(vendor / SUSPENDED, json.dumps(record, sort_keys=True) + "\n")
    return record


def resume(vendor: Path) -> dict[str, Any] | None:
    """End a suspension; return what it was."""
    record = suspended(vendor)
    (vendor / SUSPENDED).unlink(missing_ok=True)
    return record


def suspended(vendor: Path) -> dict[str, Any] | None:
    """The suspension in force, or None."""
    try:
        return json.loads((vendor / SUSPENDED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
