"""A smart-HTTP git server for tests and benchmarks: ``git http-backend`` (behind HTTP Basic auth) on 127.0.0.1.

    with GitHttpServer(forge.root, "deploy", "s3cret") as server:
        server.url                   # http://127.0.0.1:<port>/
        server.requests              # [(method, path, authorised), ...]

The port is picked by the kernel (bind to port 0). Every request without the right
credentials gets 401; the others run git-http-backend as a CGI with the repository
root as GIT_PROJECT_ROOT, and its output is streamed back (the CGI ``Status:`` header
becomes the HTTP status). Use it from a fixture so it is always stopped. Without a
user name every request is served; ``delay`` holds each request back that many
seconds first, like a git host far away.
"""
from __future__ import annotations

import base64
import hmac
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from helpers.loopback import LoopbackServer

_BACKEND = None


def http_backend() -> str:
    """The path of git-http-backend (``git --exec-path``)."""
    global _BACKEND
    if _BACKEND is None:
        exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
        _BACKEND = os.path.join(exec_path, "git-http-backend")
    return _BACKEND


class GitHttpServer(LoopbackServer):
    """Serves every repository under ``project_root`` to ``username``/``password``."""

    def __init__(self, project_root: Path, username: str | None = None, password: str | None = None, delay: float = 0.0) -> None:
        super().__init__()
        self.project_root = Path(project_root)
        self.username = username
        self.password = password or ""
        self.delay = delay
        self.requests: list[tuple[str, str, bool]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def authorised(self, header: str | None) -> bool:
        if self.username is None:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.username) and hmac.compare_digest(password, self.password)


class _Handler(BaseHTTPRequestHandler):
    owner: GitHttpServer
    protocol_version = "HTTP/1.1"  # keep-alive, responses streamed with chunked transfer encoding

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        owner = self.owner
        if owner.delay:
            time.sleep(owner.delay)
        ok = owner.authorised(self.headers.get("Authorization"))
        parts = urlsplit(self.path)
        owner.requests.append((self.command, parts.path, ok))
        if not ok:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="forge"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self._read_body()
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(owner.project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(owner.port),
            "REQUEST_METHOD": self.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
        }
        if owner.username is not None:
            env.update({"REMOTE_USER": owner.username, "AUTH_TYPE": "Basic"})
        for header in ("Content-Encoding", "Git-Protocol", "Accept"):
            value = self.headers.get(header)
            if value is not None:
                env[f"HTTP_{header.upper().replace('-', '_')}"] = value
        process = subprocess.Popen([http_backend()], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            writer = threading.Thread(target=_feed, args=(process.stdin, body), daemon=True)
            writer.start()
            status, headers = _read_cgi_headers(process.stdout)
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason or None)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while chunk := process.stdout.read1(64 * 1024):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            writer.join()
        finally:
            process.stdout.close()
            process.wait()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


def _feed(stdin: Any, body: bytes) -> None:
    try:
        stdin.write(body)
    except BrokenPipeError:
        pass
    finally:
        stdin.close()


def _read_cgi_headers(stream: Any) -> tuple[str, list[tuple[str, str]]]:
    status = "200 OK"
    headers = []
    while True:
        line = stream.readline()
        if not line or line in (b"\r\n", b"\n"):
            return status, headers
        name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
        if name.strip().lower() == "status":
            status = value.strip()
        else:
            headers.append((name.strip(), value.strip()))


GitHttpServer.handler_class = _Handler
GitHttpServer.thread_name = "git-http"
