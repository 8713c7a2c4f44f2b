"""Syncs of one root never run two at once, and the triggers that arrive meanwhile are never lost.

Each trigger leaves a pending mark for what it wants synced (a key: one
environment, or the whole project) and tries the root's sync lock. The caller
that holds it runs every marked key, once per mark it found, until no mark is
left; the others return at once. Triggers of one key that arrive during a run
become one more run of that key (they coalesce per key).
"""
from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Callable, Iterable, TypeVar

PENDING = ".sync-pending"
SYNC_LOCK = ".sync.lock"
EVERYTHING = ""  # the key of a whole-project sync: every environment, or the one served tree

Result = TypeVar("Result")


def coalesced(vendor: Path, keys: Iterable[str], run: Callable[[str], Result]) -> tuple[dict[str, Result], dict[str, int]]:
    """Run ``run(key)`` for each of ``keys`` now, or leave them to the sync in progress.

    Returns what this caller ran, by key, and how often; both are empty when the
    sync in progress took every mark. A mark for :data:`EVERYTHING` stands for
    every other key too.
    """
    vendor.mkdir(parents=True, exist_ok=True)
    for key in keys:
        _mark(vendor, key).touch()
    done: dict[str, Result] = {}
    runs: dict[str, int] = {}
    while pending(vendor):
        with open(vendor / SYNC_LOCK, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                break  # the holder runs what is marked, ours included
            while marked := pending(vendor):
                for key in [EVERYTHING] if EVERYTHING in marked else marked:
                    for taken in marked if key == EVERYTHING else [key]:
                        _mark(vendor, taken).unlink(missing_ok=True)
                    done[key] = run(key)
                    runs[key] = runs.get(key, 0) + 1
    return done, runs


def _mark(vendor: Path, key: str) -> Path:
    return vendor / (f"{PENDING}.{key}" if key else PENDING)


def pending(vendor: Path) -> list[str]:
    """The keys marked for a sync and not yet run."""
    keys = [path.name[len(PENDING) + 1:] for path in vendor.glob(f"{PENDING}.*")]
    return sorted(keys + ([EVERYTHING] if (vendor / PENDING).exists() else []))
