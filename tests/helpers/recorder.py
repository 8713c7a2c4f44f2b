"""A small HTTP server on 127.0.0.1 that records every request, for tests of outgoing notifications.

    with RecordingServer() as server:          # the kernel picks a free port
        server.url                             # http://127.0.0.1:<port>
        ...                                    # something POSTs to server.url + "/hooks"
        server.wait_for(1)                     # block until one request arrived (or fail)
        server.requests[0].json()              # method, path, headers, body, json()
        server.status = 500                    # answer every later request with HTTP 500

Headers are kept with their names lower-cased. ``server.status`` may be changed
while it runs. Use it from a fixture so it is always stopped.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from helpers.loopback import LoopbackServer


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received: float

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.headers} {self.body[:500]!r}"


class RecordingServer(LoopbackServer):
    """Answers every request with ``status`` (200 by default) and an empty JSON object, and records it."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def snapshot(self) -> list[Recorded]:
        with self._lock:
            return list(self.requests)

    def wait_for(self, count: int, timeout: float = 30.0, path: str | None = None) -> list[Recorded]:
        """Wait until ``count`` requests (to ``path`` when given) have arrived; return them all; fail on timeout."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [r for r in self.requests if path is None or r.path == path]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} of {count} requests{' to ' + path if path else ''} arrived in {timeout} s: {[str(r) for r in self.requests]}")
                self._arrived.wait(left)

    def _record(self, request: Recorded) -> None:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()


class _Handler(BaseHTTPRequestHandler):
    owner: RecordingServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status = self.owner.status
        self.owner._record(Recorded(self.command, self.path, headers, body, time.time()))
        payload = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


RecordingServer.handler_class = _Handler
RecordingServer.thread_name = "recorder"
