"""Trust settings: which keys may sign what is deployed from each source URL prefix.

``trust`` maps a source URL prefix (longest match wins, on path boundaries, as
``credentials``) to ``{gpg_keys: [<armored public key files>], ssh_allowed_signers:
<file>, require: tag | commit | any}``. ``require_trust: true`` refuses every
source that no prefix covers. Nothing here runs a tool; :mod:`shaker_core.signatures` does.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, get_args

from .errors import ConfigError
from .sources import under_prefix

Require = Literal["tag", "commit", "any"]
REQUIRES: tuple[str, ...] = get_args(Require)
_KEYS = {"gpg_keys", "ssh_allowed_signers", "require"}
MAX_KEY_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TrustPolicy:
    """The keys trusted for sources under ``prefix``, and what they must sign."""

    prefix: str
    gpg_keys: tuple[Path, ...] = ()
    ssh_allowed_signers: Path | None = None
    require: Require = "any"

    def key_files(self) -> tuple[Path, ...]:
        """Every file that holds a trusted key."""
        return (*self.gpg_keys, *((self.ssh_allowed_signers,) if self.ssh_allowed_signers else ()))

    def ssh_time_limited(self) -> bool:
        """Whether an allowed_signers line limits a key in time (``valid-before``/``valid-after``): its verdicts are not cached."""
        return self.ssh_allowed_signers is not None and b"valid-" in read_key_file(self.ssh_allowed_signers)

    def digest(self) -> str:
        """A digest of the trusted keys' contents: a verdict cached under one key set never counts for another."""
        hasher = hashlib.sha256()
        for path in self.key_files():
            hasher.update(str(path).encode() + b"\0" + read_key_file(path) + b"\0")
        return hasher.hexdigest()


def check_trust(value: Any, origin: str) -> Mapping[str, Mapping[str, Any]]:
    """Validate the ``trust`` setting's shape; each entry names at least one key and a known ``require``."""
    if not isinstance(value, Mapping):
        return value  # refused by the settings' own type check, which names the shape it wants
    for prefix, entry in value.items():
        where = f"{origin}: trust '{prefix}'"
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError(f"{origin}: every key of 'trust' must be a source URL prefix, like 'https://git.example.com/ops/'.")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where} must be a mapping with gpg_keys, ssh_allowed_signers and require.")
        unknown = sorted(set(map(str, entry)) - _KEYS)
        if unknown:
            raise ConfigError(f"{where} has the unknown key '{unknown[0]}'; use gpg_keys, ssh_allowed_signers and require.")
        keys = entry.get("gpg_keys") or []
        if isinstance(keys, str) or not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            raise ConfigError(f"{where}: 'gpg_keys' must be a list of armored public key files.")
        signers = entry.get("ssh_allowed_signers")
        if signers is not None and not (isinstance(signers, str) and signers):
            raise ConfigError(f"{where}: 'ssh_allowed_signers' must be the path of a file in OpenSSH allowed_signers format.")
        if not keys and not signers:
            raise ConfigError(f"{where} names no key; give gpg_keys, ssh_allowed_signers or both.")
        if entry.get("require", "any") not in REQUIRES:
            raise ConfigError(f"{where}: 'require' must be one of tag, commit or any, not {entry.get('require')!r}.")
    return value


def policy_for(url: str, trust: Mapping[str, Mapping[str, Any]], root: Path) -> TrustPolicy | None:
    """The policy of the longest ``trust`` prefix ``url`` lies under, with key paths relative to ``root``; None when none covers it."""
    matches = [prefix for prefix in trust if under_prefix(url, prefix)]
    if not matches:
        return None
    prefix = max(matches, key=len)
    entry = trust[prefix]
    signers = entry.get("ssh_allowed_signers")
    return TrustPolicy(
        prefix=prefix,
        gpg_keys=tuple(_under(root, key) for key in entry.get("gpg_keys") or ()),
        ssh_allowed_signers=_under(root, signers) if signers else None,
        require=entry.get("require", "any"),
    )


def read_key_file(path: Path) -> bytes:
    """A trusted key file's bytes; a missing or unreadable one is a ConfigError naming it."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"The trusted key file {path} cannot be read ({exc.strerror or exc}); fix the path under 'trust'.") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise ConfigError(f"The trusted key file {path} is over {MAX_KEY_FILE_BYTES} bytes; it is not a public key or allowed_signers file.")
    return data


def _under(root: Path, path: str) -> Path:
    return (root / Path(path).expanduser()).resolve()
