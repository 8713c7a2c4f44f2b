"""Real signing keys (GnuPG and OpenSSH), and git tags and commits signed with them, for tests.

    keys = Keys(tmp_path / "keys")              # call keys.close() when done: it stops the gpg-agents
    alice = keys.gpg("alice")                    # Ed25519, no passphrase, in its own GNUPGHOME
    erin = keys.gpg("erin", expired=True)        # valid when it signs (faked time), expired now
    bob = keys.ssh("bob")                        # ed25519 key pair, no passphrase
    sign_tag(formula, "v1.0.0", alice)           # `git tag -s`, gpg.format=openpgp
    sign_commit(formula, {"a.sls": "a: 1\n"}, bob)   # `git commit -S`, gpg.format=ssh
    keys.revoke(alice)                           # alice.public_file() now exports a revoked key
    tamper_tag(formula, "v1.0.0", "evil")        # same signature, new message: BADSIG
    replay_tag(formula, "v1.0.0", "v2.0.0")      # refs/tags/v2.0.0 -> the v1.0.0 tag object
    home = keys.public_home("verifier", alice)   # a GNUPGHOME holding only alice's public key

Git signs through a per-key wrapper (``GpgKey.program``, given as gpg.program) that pins
``--homedir`` and, for an expired key, ``--faked-system-time`` inside the key's validity.
All signing config is passed with ``git -c``; nothing is written to any git config file.
Public-only homes (``public_home``) never start a gpg-agent (``no-autostart`` in gpg.conf).
"""
from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .forge import Formula, git

DAY = 86400
_SOCKET_MAX = 106  # measured: the agent fails to start once homedir/S.gpg-agent.browser reaches 107 chars
_STATUS = "[GNUPG:] "


def _gpg(homedir: Path, *args: str, input: bytes | None = None, faked: str | None = None) -> bytes:
    """Run gpg in batch mode on ``homedir``; return stdout, raise with stderr on failure."""
    command = ["gpg", "--homedir", str(homedir), "--batch"] + (["--faked-system-time", faked] if faked else []) + list(args)
    result = subprocess.run(command, input=input, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def gpg_status(homedir: Path, *args: str, input: bytes | None = None) -> list[str]:
    """The ``[GNUPG:]`` status lines (prefix removed) of ``gpg --status-fd 1 <args>``, whatever its exit code."""
    command = ["gpg", "--homedir", str(homedir), "--batch", "--no-autostart", "--status-fd", "1", *args]
    result = subprocess.run(command, input=input, capture_output=True)
    lines = result.stdout.decode(errors="replace").splitlines()
    return [line[len(_STATUS) :] for line in lines if line.startswith(_STATUS)]


@dataclass(frozen=True)
class GpgKey:
    """An OpenPGP key whose secret half lives in ``homedir``."""

    name: str
    fingerprint: str
    homedir: Path

    @property
    def program(self) -> Path:
        """The gpg wrapper git signs through (gpg.program): pinned homedir, and faked time if expired."""
        return self.homedir / "gpg-program"

    @property
    def email(self) -> str:
        return f"{self.name}@example.invalid"

    def public_file(self, dest: Path) -> Path:
        """Write the ASCII-armored public key as it is now (revocation included) to ``dest``."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(_gpg(self.homedir, "--no-autostart", "--armor", "--export", self.fingerprint))
        return dest


@dataclass(frozen=True)
class SshKey:
    """An OpenSSH ed25519 key pair."""

    name: str
    private: Path
    public: Path
    fingerprint: str

    @property
    def email(self) -> str:
        return f"{self.name}@example.invalid"

    def allowed_signers_line(self, principal: str = "") -> str:
        """One line of an allowed-signers file trusting this key for git signatures as ``principal``."""
        return f'{principal or self.email} namespaces="git" {self.public.read_text().strip()}\n'


class Keys:
    """Keys made under ``root``: gnupg/<name> homes, ssh/<name> key pairs, verify/<name> public homes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._homes: list[Path] = []

    def gpg(self, name: str, *, expired: bool = False) -> GpgKey:
        """A sign-capable Ed25519 key; ``expired``: made 10 days ago with a 1-day life, signing inside it."""
        homedir = self._home(self.root / "gnupg" / name, agent=True)
        created = int(time.time()) - 10 * DAY if expired else None
        _gpg(
            homedir,
            *("--passphrase", "", "--pinentry-mode", "loopback"),
            *("--quick-generate-key", f"{name} <{name}@example.invalid>", "ed25519", "sign", "1d" if expired else "never"),
            faked=f"{created}!" if created else None,
        )
        key = GpgKey(name, _fingerprint(homedir), homedir)
        _write_program(key, f"{created + 3600}!" if created else None)
        return key

    def revoke(self, key: GpgKey) -> None:
        """Import the key's own revocation certificate (made with it); its old signatures become REVKEYSIG."""
        cert = (key.homedir / "openpgp-revocs.d" / f"{key.fingerprint}.rev").read_text()
        armored = "".join(line[1:] if line.startswith(":-----") else line for line in cert.splitlines(keepends=True))
        _gpg(key.homedir, "--import", input=armored.encode())

    def ssh(self, name: str) -> SshKey:
        """An ed25519 key pair without passphrase, commented ``name``."""
        private = self.root / "ssh" / name
        private.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(private)], check=True)
        public = private.with_name(f"{name}.pub")
        listing = subprocess.run(["ssh-keygen", "-lf", str(public)], check=True, capture_output=True, text=True).stdout
        return SshKey(name, private, public, listing.split()[1])

    def public_home(self, name: str, *keys: GpgKey) -> Path:
        """A fresh GNUPGHOME under verify/ holding only the public halves of ``keys`` (as they are now)."""
        homedir = self._home(self.root / "verify" / name)
        (homedir / "gpg.conf").write_text("no-autostart\n")
        for key in keys:
            _gpg(homedir, "--import", input=key.public_file(self.root / "public" / f"{key.name}.asc").read_bytes())
        return homedir

    def close(self) -> None:
        """Stop every gpg-agent started for a home made here (the fixture that makes Keys must call it)."""
        for homedir in self._homes:
            subprocess.run(["gpgconf", "--homedir", str(homedir), "--kill", "all"], capture_output=True)

    def __enter__(self) -> Keys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _home(self, homedir: Path, agent: bool = False) -> Path:
        if agent and len(str(homedir / "S.gpg-agent.browser")) > _SOCKET_MAX:
            raise ValueError(f"GNUPGHOME {homedir} is too long for the gpg-agent socket; use a shorter Keys root")
        homedir.mkdir(parents=True, mode=0o700)
        self._homes.append(homedir)
        return homedir


def _fingerprint(homedir: Path) -> str:
    listing = _gpg(homedir, "--with-colons", "--list-secret-keys").decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def _write_program(key: GpgKey, faked: str | None) -> None:
    options = ["--homedir", str(key.homedir)] + (["--faked-system-time", faked] if faked else [])
    key.program.write_text(f'#!/bin/sh\nexec gpg {shlex.join(options)} "$@"\n')
    key.program.chmod(0o755)


def signing_config(key: GpgKey | SshKey) -> list[str]:
    """The ``git -c`` flags that make ``tag -s`` / ``commit -S`` sign with ``key``."""
    if isinstance(key, SshKey):
        return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key.private}"]
    return ["-c", "gpg.format=openpgp", "-c", f"gpg.program={key.program}", "-c", f"user.signingkey={key.fingerprint}"]


def sign_tag(formula: Formula, tag: str, key: GpgKey | SshKey, *, at: str = "HEAD", message: str | None = None, force: bool = False) -> str:
    """A signed annotated tag ``tag`` on ``at`` (forge-clock dated); return the commit it names."""
    args = ["tag", "-s"] + (["-f"] if force else []) + ["-m", message or f"{formula.name} {tag}", tag, at]
    formula.git(*signing_config(key), *args, timed=True)
    return formula.git("rev-parse", f"{tag}^{{commit}}")


def sign_commit(
    formula: Formula, files: Mapping[str, Any] | None, key: GpgKey | SshKey, *, branch: str = "main", message: str = "signed change"
) -> str:
    """Like ``Formula.commit`` (same file values), but signed; return the new commit on ``branch``."""
    formula._checkout(branch)
    try:
        for rel, value in (files or {}).items():
            formula._write(rel, value)
        formula.git("add", "-A")
        formula.git(*signing_config(key), "commit", "-q", "-S", "--allow-empty", "-m", message, timed=True)
        return formula.head(branch)
    finally:
        formula._checkout("main")


def sign_work_commit(work: Path, key: GpgKey | SshKey, message: str, env: Mapping[str, str] | None = None) -> str:
    """Stage everything in the ordinary work tree ``work`` and commit it signed (empty allowed); return HEAD."""
    git("add", "-A", cwd=work, env=env)
    git(*signing_config(key), "commit", "-q", "-S", "--allow-empty", "--allow-empty-message", "-m", message, cwd=work, env=env)
    return git("rev-parse", "HEAD", cwd=work, env=env)


def tamper_tag(formula: Formula, tag: str, new_message: str) -> str:
    """Rewrite the signed tag ``tag`` with ``new_message`` but its old signature; return the new tag object."""
    text = formula.git("cat-file", "tag", f"refs/tags/{tag}") + "\n"  # git() strips the final newline
    header, _, body = text.partition("\n\n")
    start = body.rfind("\n-----BEGIN ") + 1
    if start == 0:
        raise ValueError(f"tag {tag} carries no signature")
    forged = f"{header}\n\n{new_message.rstrip(chr(10))}\n{body[start:]}"
    obj = formula.git("hash-object", "-t", "tag", "-w", "--literally", "--stdin", input=forged)
    formula.git("update-ref", f"refs/tags/{tag}", obj)
    return obj


def replay_tag(formula: Formula, tag: str, new_name: str) -> None:
    """Point refs/tags/<new_name> at the tag object of ``tag``, whose own ``tag`` field still says ``tag``."""
    obj = formula.git("rev-parse", f"refs/tags/{tag}")
    if formula.git("cat-file", "-t", obj) != "tag":
        raise ValueError(f"{tag} is a lightweight tag; there is no tag object to replay")
    formula.git("update-ref", f"refs/tags/{new_name}", obj)
