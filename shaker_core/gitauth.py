"""Credentials for git sources and the callbacks that hand them to libgit2 (once: no retry loop)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pygit2

from . import faults, interrupts
from .sources import under_prefix


@dataclass(frozen=True)
class Credential:
    """How to authenticate to sources under one URL prefix."""

    username: str | None = None
    password: str | None = None
    ssh_key: str | None = None
    ssh_pubkey: str | None = None
    passphrase: str | None = None
    agent: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Credential:
        """Build from a settings mapping (``username``, ``password``/``token``, ``ssh_key``, ...)."""
        return cls(
            username=data.get("username"),
            password=data.get("password") or data.get("token"),
            ssh_key=data.get("ssh_key"),
            ssh_pubkey=data.get("ssh_pubkey"),
            passphrase=data.get("passphrase"),
            agent=bool(data.get("agent", False)),
        )


class Credentials:
    """Credentials chosen by the longest matching source URL prefix."""

    def __init__(self, by_prefix: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._by_prefix = {prefix: Credential.from_mapping(data or {}) for prefix, data in (by_prefix or {}).items()}

    def for_url(self, url: str) -> Credential | None:
        """The credential for ``url``, or None."""
        matches = [prefix for prefix in self._by_prefix if under_prefix(url, prefix)]
        return self._by_prefix[max(matches, key=len)] if matches else None

    def secrets(self) -> list[str]:
        """Every secret value, so callers can scrub them from text."""
        return [s for c in self._by_prefix.values() for s in (c.password, c.passphrase) if s]


class Callbacks(pygit2.RemoteCallbacks):
    """Supplies credentials once (no retry loop) and enforces an overall deadline."""

    def __init__(self, credential: Credential | None, deadline: float, progress: Callable[[int], None] | None) -> None:
        super().__init__()
        self._credential = credential
        self._deadline = deadline
        self._progress = progress
        self._asked = 0

    def credentials(self, url: str, username_from_url: str | None, allowed_types: Any) -> Any:
        self._asked += 1
        credential = self._credential
        if credential is None or self._asked > 1:
            raise AuthFailed("authentication failed" if self._asked > 1 else "the source asks for credentials and none are configured")
        allowed = pygit2.enums.CredentialType
        user = credential.username or username_from_url or "git"
        if allowed_types & allowed.SSH_KEY:
            if credential.ssh_key:
                pubkey = credential.ssh_pubkey or f"{credential.ssh_key}.pub"
                return pygit2.Keypair(user, pubkey if os.path.exists(pubkey) else None, credential.ssh_key, credential.passphrase or "")
            if credential.agent:
                return pygit2.KeypairFromAgent(user)
        if allowed_types & allowed.USERPASS_PLAINTEXT and credential.password is not None:
            return pygit2.UserPass(user, credential.password)
        if allowed_types & allowed.USERNAME:
            return pygit2.Username(user)
        raise AuthFailed("no configured credential fits what the source accepts")

    def certificate_check(self, certificate: Any, valid: bool, host: bytes | str) -> bool:
        """Refuse a host libgit2 could not verify (a TLS certificate, or an SSH host key not in known_hosts)."""
        if not valid:
            shown = host.decode(errors="replace") if isinstance(host, bytes) else host
            raise AuthFailed(
                f"the identity of {shown} could not be verified (its TLS certificate, or its SSH host key in ~/.ssh/known_hosts "
                "of the user running salt-shaker)"
            )
        return True

    def transfer_progress(self, stats: Any) -> None:
        if interrupts.requested():
            raise Timeout("the run was interrupted")
        if stats.received_objects:
            faults.point("mid-fetch")
        if time.monotonic() > self._deadline:
            raise Timeout("the transfer took too long")
        if self._progress is not None:
            self._progress(stats.received_bytes)


class AuthFailed(Exception):
    pass


class Timeout(Exception):
    pass

