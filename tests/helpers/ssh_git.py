"""A real sshd on 127.0.0.1 serving a forge's bare repositories, for tests where SSH credentials matter.

    with SshGitServer(forge.root, tmp_path / "ssh") as server:
        server.url("org/users-formula")        # ssh://<user>@127.0.0.1:<port>/<forge>/org/users-formula.git
        server.client_key                       # private key the server accepts
        server.known_hosts_line                 # "[127.0.0.1]:<port> ssh-ed25519 ..." for ~/.ssh/known_hosts

Only key authentication is accepted (no passwords, no PAM). The server's host key
is generated per server, so a client must be told it (known_hosts) or refuse.
"""
from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

from .loopback import free_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _keypair(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


class SshGitServer:
    """sshd on a free loopback port, key authentication only, started and always stopped by its user."""

    def __init__(self, forge_root: Path, workdir: Path) -> None:
        self.forge_root = Path(forge_root)
        self.workdir = Path(workdir)
        self.user = getpass.getuser()
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> SshGitServer:
        # sshd insists on its privilege separation directory (a package's tmpfiles.d makes it at boot)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        self.host_key = _keypair(self.workdir / "host_ed25519")
        self.client_key = _keypair(self.workdir / "client_ed25519")
        authorized = self.workdir / "authorized_keys"
        authorized.write_text((self.workdir / "client_ed25519.pub").read_text())
        authorized.chmod(0o600)
        config = self.workdir / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\nAuthorizedKeysFile {authorized}\n"
            f"PidFile {self.workdir / 'sshd.pid'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nLogLevel ERROR\n"
        )
        self._process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
        self._wait_listening()
        return self

    def _wait_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self._process.stderr.read().decode() if self._process.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> SshGitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, name: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.forge_root}/{name}.git"

    @property
    def template(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.forge_root}/{{org}}/{{name}}.git"

    @property
    def known_hosts_line(self) -> str:
        key = (self.workdir / "host_ed25519.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {' '.join(key)}\n"
