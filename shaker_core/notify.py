"""Tell people what a sync did: JSON or Slack messages, and git host commit statuses.

A notification that fails is logged and never fails the sync. Identical
failure messages are sent at most once per ``repeat_after`` seconds. Tokens
go in headers only and never appear in what is logged or returned.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

from .atomic import write_atomic
from .sources import redact

log = logging.getLogger(__name__)

STATE_FILE = ".notify-state.json"
TIMEOUT = 10.0


def notify(settings: Mapping[str, Any] | None, vendor: Path, report: Mapping[str, Any], project_commit: str | None) -> list[str]:
    """Send what ``settings`` (``shaker:notify``) asks for; return a line per delivery, for the report."""
    if not settings or not _worth_telling(report):
        return []
    message = summary(report)
    if not report.get("success") and _sent_recently(vendor, message, float(settings.get("repeat_after", 3600))):
        return ["notifications: the same failure was already sent recently"]
    results = [_post_message(target, message, report) for target in _targets(settings.get("urls"))]
    status = settings.get("commit_status")
    if status and project_commit:
        results.append(_commit_status(status, project_commit, report, message))
    return results


def _worth_telling(report: Mapping[str, Any]) -> bool:
    return not report.get("success") or bool(report.get("published"))


def summary(report: Mapping[str, Any]) -> str:
    """One line saying what happened."""
    if not report.get("success"):
        return f"salt-shaker {report.get('command')} failed: {report.get('message')}"
    changes = report.get("served_changes") or report.get("changes") or {}
    moved = ", ".join(f"{name} {(c.get('old') or {}).get('ref')} -> {(c.get('new') or {}).get('ref')}" for name, c in changes.items())
    signed = f" (project commit signed by {report['project_signer']})" if report.get("project_signer") else ""
    return f"salt-shaker published release {report.get('release')}{signed}" + (f": {moved}" if moved else "")


def _targets(urls: Any) -> list[dict[str, str]]:
    targets = []
    for item in urls or []:
        if isinstance(item, str):
            targets.append({"url": item, "format": "slack" if "hooks.slack.com" in item else "json"})
        elif isinstance(item, Mapping) and item.get("url"):
            targets.append({"url": str(item["url"]), "format": str(item.get("format", "json"))})
    return targets


def _post_message(target: Mapping[str, str], message: str, report: Mapping[str, Any]) -> str:
    body: dict[str, Any] = {"text": message} if target["format"] == "slack" else {"event": "shaker/sync", "text": message, "report": _public(report)}
    return _send("POST", target["url"], body, {})


def _public(report: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("command", "success", "release", "previous_release", "served_changes", "message", "error", "root_dir", "trigger")
    return {key: report[key] for key in keep if key in report}


def _commit_status(config: Mapping[str, Any], commit: str, report: Mapping[str, Any], message: str) -> str:
    provider = str(config.get("provider", "github"))
    api = str(config.get("api_url", "https://api.github.com")).rstrip("/")
    repo = str(config.get("repository", ""))
    token = str(config.get("token", ""))
    ok = bool(report.get("success"))
    description = message[:139]
    if provider == "gitlab":
        url = f"{api}/projects/{quote(repo, safe='')}/statuses/{commit}"
        return _send("POST", url, {"state": "success" if ok else "failed", "name": "salt-shaker", "description": description}, {"PRIVATE-TOKEN": token})
    url = f"{api}/repos/{repo}/statuses/{commit}"
    auth = f"token {token}" if provider == "gitea" else f"Bearer {token}"
    return _send("POST", url, {"state": "success" if ok else "failure", "context": "salt-shaker", "description": description}, {"Authorization": auth})


def _send(method: str, url: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    import requests  # only when something is sent: it costs a tenth of a second to import

    shown = redact(url)
    try:
        response = requests.request(method, url, data=json.dumps(body), headers={"Content-Type": "application/json", **headers}, timeout=TIMEOUT)
    except requests.RequestException as exc:
        log.warning("notification to %s failed: %s", shown, type(exc).__name__)
        return f"notification to {shown} failed ({type(exc).__name__})"
    if response.status_code >= 300:
        log.warning("notification to %s answered HTTP %s", shown, response.status_code)
        return f"notification to {shown} answered HTTP {response.status_code}"
    return f"notified {shown}"


def _sent_recently(vendor: Path, message: str, window: float) -> bool:
    path = vendor / STATE_FILE
    digest = hashlib.sha256(message.encode()).hexdigest()
    now = time.time()
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    if now - float(state.get(digest, 0)) < window:
        return True
    state = {key: sent for key, sent in state.items() if now - float(sent) < window}
    state[digest] = now
    write_atomic(path, json.dumps(state))
    return False
