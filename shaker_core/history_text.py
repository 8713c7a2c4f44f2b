"""``salt-shaker history`` for a person: the releases kept for rollback, then the recent deploys, newest first."""
from __future__ import annotations

import time
from typing import Any, Mapping


def history_lines(report: Mapping[str, Any]) -> list[str]:
    """One line per kept release (the served one marked ``*``), then one per deploy."""
    lines = ["Releases (newest first; * is served):"]
    for row in report.get("releases", []):
        formulas = ", ".join(f"{name} {ref}" for name, ref in sorted(row.get("formulas", {}).items()))
        lines.append(f"{'*' if row.get('current') else ' '} {row['release']}  {_when(row.get('created'))}  {formulas or '(no formulas)'}")
    if len(lines) == 1:
        lines.append("  (none)")
    lines.append("Deploys (newest first):")
    deploys = list(reversed(report.get("deploys", [])))
    lines += [_deploy_line(record) for record in deploys] or ["  (none)"]
    return lines


def _deploy_line(record: Mapping[str, Any]) -> str:
    outcome = "ok" if record.get("success") else f"failed ({record.get('error') or 'error'}): {record.get('message') or ''}".rstrip(": ")
    parts = [
        _when(record.get("finished")),
        record.get("trigger") or "-",
        record.get("command") or "-",
        f"saltenv {record['saltenv']}" if record.get("saltenv") else "",
        f"project {record['project_commit'][:12]}" if record.get("project_commit") else "",
        f"release {record['release']}" if record.get("release") else "",
        outcome,
    ]
    return "  " + "  ".join(part for part in parts if part)


def _when(stamp: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(float(stamp))) if isinstance(stamp, (int, float)) else "-"
