"""The verdict cache: good signature checks, by object id and trusted-key digest, so a warm run runs no GnuPG or ssh-keygen.

A git object id names the exact signed bytes (signature included), and the
digest names the exact trusted keys, so a cached verdict can only be reused for
the same signature under the same keys. It lasts until the key or the signature
expires; a revoked key arrives as a changed key file, so a new digest. Only good
verdicts are kept: a refusal is checked again next time. Whoever can write
``cache_dir`` is trusted (as for the mirrors), so the file is not signed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from pathlib import Path

from .atomic import write_atomic
from .signatures import Signer

log = logging.getLogger(__name__)

MAX_VERDICTS = 50_000  # about 100 bytes each: the oldest are dropped past this


class VerdictCache:
    """Good verdicts in one JSON file, read on first use and written back by :meth:`save` when something was added."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, dict[str, object]] | None = None
        self._added = False
        self._lock = threading.Lock()

    def get(self, object_id: str, digest: str) -> Signer | None:
        """The cached signer of ``object_id`` under the keys of ``digest``, unless it has expired since."""
        with self._lock:
            found = self._load().get(_key(object_id, digest))
        if not isinstance(found, dict) or not isinstance(found.get("signer"), str):
            return None
        until = found.get("until")
        if isinstance(until, (int, float)) and until <= time.time():
            return None
        method, _, fingerprint = str(found["signer"]).partition(":")
        if method not in ("openpgp", "ssh"):
            return None
        return Signer(method, fingerprint, float(until) if isinstance(until, (int, float)) else None)  # type: ignore[arg-type]

    def put(self, object_id: str, digest: str, signer: Signer) -> None:
        with self._lock:
            self._load()[_key(object_id, digest)] = {"signer": signer.token, "until": signer.valid_until}
            self._added = True

    def save(self) -> None:
        """Write the file back when this run added a verdict; a cache that cannot be written only costs the next run a check."""
        with self._lock:
            if not self._added or self._entries is None:
                return
            kept = dict(list(self._entries.items())[-MAX_VERDICTS:])
            try:
                write_atomic(self.path, json.dumps(kept, sort_keys=False))
            except OSError as exc:
                log.debug("could not write the verdict cache %s: %s", self.path, exc)
            self._added = False

    def _load(self) -> dict[str, dict[str, object]]:
        if self._entries is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            self._entries = data if isinstance(data, dict) else {}
        return self._entries


def _key(object_id: str, digest: str) -> str:
    return hashlib.sha256(f"{object_id}\0{digest}".encode()).hexdigest()
