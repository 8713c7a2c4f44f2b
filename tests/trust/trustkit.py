"""The trust tests' project directory: a project with ``trust`` in shaker.yml and its key files under keys/."""
from __future__ import annotations

from pathlib import Path

import yaml
from helpers.forge import Forge
from helpers.signing import GpgKey, SshKey


class Project:
    """A project directory (cache outside it, so a snapshot of the directory is exact) with ``trust`` in shaker.yml."""

    def __init__(self, path: Path, forge: Forge, dependencies: list[str], trust: dict | None = None, **settings: object) -> None:
        self.path = path
        self.keys = path / "keys"
        self.keys.mkdir(parents=True)
        (path / "metadata.yml").write_text(yaml.safe_dump({"dependencies": dependencies}))
        self.forge = forge
        self.settings = {"source_template": forge.template, "cache_dir": str(path.parent / f"{path.name}-cache"), **settings}
        self.write_settings(trust)

    def write_settings(self, trust: dict | None) -> None:
        document = {**self.settings, **({"trust": trust} if trust is not None else {})}
        (self.path / "shaker.yml").write_text(yaml.safe_dump(document))

    def gpg_file(self, key: GpgKey, name: str | None = None) -> str:
        """Export ``key``'s public half (as it is now) into keys/; return the path relative to the project."""
        key.public_file(self.keys / f"{name or key.name}.asc")
        return f"keys/{name or key.name}.asc"

    def allowed_signers(self, *ssh_keys: SshKey) -> str:
        (self.keys / "allowed_signers").write_text("".join(key.allowed_signers_line() for key in ssh_keys))
        return "keys/allowed_signers"

    def lock_lines(self) -> list[str]:
        return [line for line in (self.path / "formula-requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
