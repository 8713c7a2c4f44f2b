"""Signature checks with the tools git itself uses: GnuPG for OpenPGP, ``ssh-keygen -Y`` for SSH.

A :class:`Verifier` holds one policy's trusted keys: a private GnuPG home that
holds only its ``gpg_keys`` (made on first use) and its ``allowed_signers``
file. :meth:`Verifier.verify` reads GnuPG's ``--status-fd`` lines, never its
human text, and returns who signed, or raises :class:`Refused` saying why.
No cryptography is done here.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import ConfigError
from .trust import TrustPolicy

Method = Literal["openpgp", "ssh"]
TOOL_TIMEOUT = 60.0
PGP_ARMOR = b"-----BEGIN PGP SIGNATURE-----"
SSH_ARMOR = b"-----BEGIN SSH SIGNATURE-----"
_REFUSING = {  # GnuPG status keywords that refuse a signature, and what they mean
    "BADSIG": "the signature does not match the signed data (it was changed after signing)",
    "EXPKEYSIG": "the key that signed it has expired",
    "REVKEYSIG": "the key that signed it has been revoked",
    "EXPSIG": "the signature has expired",
    "NO_PUBKEY": "the key that signed it is not a trusted key",
    "ERRSIG": "the signature cannot be checked",
}
_SSH_GOOD = re.compile(r'Good "git" signature (?:for .* )?with \S+ key (SHA256:\S+)')


@dataclass(frozen=True)
class Signer:
    """Who made a good signature: ``openpgp`` and the primary key fingerprint, or ``ssh`` and ``SHA256:...``."""

    method: Method
    fingerprint: str
    valid_until: float | None = None  # when the key or the signature expires, as GnuPG reports it

    @property
    def token(self) -> str:
        """``openpgp:<FINGERPRINT>`` or ``ssh:SHA256:...``: what the lock records."""
        return f"{self.method}:{self.fingerprint}"


class Refused(Exception):
    """A signature that does not count: ``reason`` is one clause, ``key`` the key id or fingerprint when one is known."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


def split_signed(raw: bytes) -> tuple[bytes, bytes] | None:
    """A tag object's (payload, signature), split at the last armored signature line as git does; None when unsigned."""
    start = -1
    for armor in (PGP_ARMOR, SSH_ARMOR):
        found = raw.rfind(b"\n" + armor)
        start = max(start, found + 1 if found >= 0 else (0 if raw.startswith(armor) else -1))
    return None if start < 0 else (raw[:start], raw[start:])


class Verifier:
    """Checks signatures against one policy's trusted keys; thread-safe; :meth:`close` removes its GnuPG home."""

    def __init__(self, policy: TrustPolicy) -> None:
        self.policy = policy
        self._home: Path | None = None
        self._expiry: dict[str, float | None] = {}  # fingerprint (key or subkey) -> when it expires
        self._lock = threading.Lock()

    def verify(self, signature: bytes, payload: bytes) -> Signer:
        """Who signed ``payload``, when it is a good signature by a trusted key that has not expired or been revoked."""
        if signature.lstrip().startswith(SSH_ARMOR):
            return self._verify_ssh(signature, payload)
        if signature.lstrip().startswith(PGP_ARMOR):
            return self._verify_gpg(signature, payload)
        raise Refused("it is signed in a format salt-shaker does not check (only OpenPGP and SSH signatures)")

    def close(self) -> None:
        if self._home is not None:
            subprocess.run(["gpgconf", "--homedir", str(self._home), "--kill", "all"], capture_output=True, check=False)
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    # -- OpenPGP --

    def _verify_gpg(self, signature: bytes, payload: bytes) -> Signer:
        if not self.policy.gpg_keys:
            raise Refused("it is an OpenPGP signature, and no gpg_keys are trusted for this source")
        home = self._gnupg_home()
        with _temp_file(home, signature) as sig_path:
            status = _run(["gpg", "--homedir", str(home), "--batch", "--no-tty", "--no-autostart", "--trust-model", "always", "--no-auto-key-retrieve",
                           "--status-fd", "1", "--verify", sig_path, "-"], payload).stdout
        return self._gpg_verdict(_status_lines(status))

    def _gpg_verdict(self, lines: list[list[str]]) -> Signer:
        words = {line[0]: line[1:] for line in lines if line}
        for keyword, reason in _REFUSING.items():
            if keyword in words:
                args = words[keyword]
                raise Refused(reason, args[0] if args else None)
        if "GOODSIG" not in words or "VALIDSIG" not in words:
            raise Refused("GnuPG found no good signature in it")
        valid = words["VALIDSIG"]
        primary = valid[9] if len(valid) > 9 else valid[0]
        ends = [float(valid[3])] if len(valid) > 3 and valid[3].isdigit() and valid[3] != "0" else []
        ends += [end for end in (self._expiry.get(primary), self._expiry.get(valid[0])) if end]
        return Signer("openpgp", primary, min(ends) if ends else None)

    def _gnupg_home(self) -> Path:
        with self._lock:
            if self._home is None:
                home = Path(tempfile.mkdtemp(prefix="shaker-gnupg-"))
                (home / "common.conf").write_text("")  # no keyboxd: newer GnuPG would start one for a new home
                for key in self.policy.gpg_keys:
                    result = _run(["gpg", "--homedir", str(home), "--batch", "--no-tty", "--no-autostart", "--import", str(key)], b"", check=False)
                    if result.returncode != 0:
                        shutil.rmtree(home, ignore_errors=True)
                        raise ConfigError(f"The trusted key file {key} holds no OpenPGP public key GnuPG can import; export it with "
                                          "`gpg --armor --export <fingerprint>`.")
                self._expiry = _expiry_times(home)
                self._home = home
            return self._home

    # -- SSH --

    def _verify_ssh(self, signature: bytes, payload: bytes) -> Signer:
        allowed = self.policy.ssh_allowed_signers
        if allowed is None:
            raise Refused("it is an SSH signature, and no ssh_allowed_signers file is trusted for this source")
        with tempfile.TemporaryDirectory(prefix="shaker-ssh-") as scratch, _temp_file(Path(scratch), signature) as sig_path:
            found = _run(["ssh-keygen", "-Y", "find-principals", "-f", str(allowed), "-s", sig_path], b"", check=False)
            principals = found.stdout.decode(errors="replace").split()
            if found.returncode != 0 or not principals:
                raise Refused("the key that signed it is not in the trusted allowed_signers file", _ssh_key_of(sig_path, payload))
            checked = _run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", principals[0], "-n", "git", "-s", sig_path], payload, check=False)
        match = _SSH_GOOD.search(checked.stdout.decode(errors="replace"))
        if checked.returncode != 0 or match is None:
            raise Refused(_REFUSING["BADSIG"], principals[0])  # the signature names a trusted key, but not over these bytes
        return Signer("ssh", match.group(1))


def _ssh_key_of(sig_path: str, payload: bytes) -> str | None:
    """The fingerprint of the key that made an SSH signature (whether or not it is trusted), when the signature holds."""
    result = _run(["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", sig_path], payload, check=False)
    match = _SSH_GOOD.search(result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace"))
    return match.group(1) if match else None


def _expiry_times(home: Path) -> dict[str, float | None]:
    """Fingerprint of every key and subkey in ``home`` -> when it expires (None: never)."""
    listing = _run(["gpg", "--homedir", str(home), "--batch", "--with-colons", "--fixed-list-mode", "--list-keys"], b"").stdout
    times: dict[str, float | None] = {}
    expires: float | None = None
    for fields in (line.split(":") for line in listing.decode(errors="replace").splitlines()):
        if fields[0] in ("pub", "sub") and len(fields) > 6:
            expires = float(fields[6]) if fields[6].isdigit() else None
        elif fields[0] == "fpr" and len(fields) > 9:
            times[fields[9]] = expires
    return times


def _status_lines(output: bytes) -> list[list[str]]:
    return [line.split()[1:] for line in output.decode(errors="replace").splitlines() if line.startswith("[GNUPG:] ")]


def _run(command: list[str], data: bytes, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(command, input=data, capture_output=True, timeout=TOOL_TIMEOUT, check=False,
                                env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError:
        raise ConfigError(f"'{command[0]}' is not installed; signatures under 'trust' are checked with it "
                          "(install the gnupg or openssh-client package).") from None
    except subprocess.TimeoutExpired:
        raise Refused(f"{command[0]} did not answer within {TOOL_TIMEOUT:.0f} seconds") from None
    if check and result.returncode not in (0, 1, 2):
        raise Refused(f"{command[0]} failed ({result.stderr.decode(errors='replace').strip()[:200]})")
    return result


class _temp_file:
    """A private temp file holding ``data``, removed afterwards; yields its path."""

    def __init__(self, directory: Path, data: bytes) -> None:
        self.directory, self.data, self.path = directory, data, ""

    def __enter__(self) -> str:
        handle, self.path = tempfile.mkstemp(dir=self.directory, suffix=".sig")
        with os.fdopen(handle, "wb") as out:
            out.write(self.data)
        return self.path

    def __exit__(self, *exc: object) -> None:
        os.unlink(self.path)
