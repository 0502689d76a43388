"""A deliberately unreliable HTTP server on 127.0.0.1, between the client and the sandbox.

Each request takes the next step of a scripted plan; when the plan is used up it is forwarded
to the upstream (the sandbox) as is. Steps:

    "proxy"          forward to the upstream and relay its answer
    "reset"          read the request, then reset the connection (SO_LINGER 0) without forwarding
    "stall"          read the request, then answer nothing until the client gives up
    "502", "503"...  answer with that status and an HTML page, like a proxy would, without forwarding
    ("503", {"Retry-After": "2"})                 the same with extra headers
    ("404", {"Content-Type": "..."}, b"body")     any status, headers and body
    "forward_reset"  forward, then reset: the request took effect but its answer is lost
    "forward_stall"  forward, then stall
    "forward_502"    forward, then answer 502 instead of the upstream's answer

Usage::

    with FaultyServer(sandbox.server.url_for("")) as faulty:
        faulty.plan("reset", ("503", {"Retry-After": "1"}))
        client = Client(sandbox.api_key, base_url=faulty.url + "/v1/json")
        client.get_order("order-1")           # two failures, then forwarded
        faulty.received                       # [("GET", "/v1/json/orders/order-1", "reset"), ...]
        faulty.forwarded                      # what reached the sandbox
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Step = str | tuple[Any, ...]
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "server", "date"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        step = self.server.take(self.command, self.path)
        name, *rest = step if isinstance(step, tuple) else (step,)
        if name.startswith("forward_") or name == "proxy":
            status, headers, payload = self._forward(body)
            name = name.removeprefix("forward_") if name != "proxy" else "relay"
            if name == "relay":
                return self._reply(status, headers, payload)
        if name == "reset":
            # SO_LINGER on with a zero timeout: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return None
        if name == "stall":
            self.server.stopping.wait(self.server.stall_seconds)
            self.close_connection = True
            return None
        extra = dict(rest[0]) if rest else {}
        page = rest[1] if len(rest) > 1 else f"<html><body><h1>{name} error</h1></body></html>".encode()
        return self._reply(int(name), {"Content-Type": "text/html", **extra}, page)

    do_GET = do_POST = do_PATCH = do_DELETE = _handle

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        upstream = urlsplit(self.server.upstream)
        conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=10)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            with self.server.lock:
                self.server.forwarded.append((self.command, self.path, response.status))
            return response.status, kept, payload
        finally:
            conn.close()

    def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, stall_seconds: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.stall_seconds = stall_seconds
        self.lock = threading.Lock()
        self.steps: deque[Step] = deque()
        self.received: list[tuple[str, str, str]] = []
        self.forwarded: list[tuple[str, str, int]] = []
        self.stopping = threading.Event()

    def take(self, method: str, path: str) -> Step:
        with self.lock:
            step = self.steps.popleft() if self.steps else "proxy"
            self.received.append((method, path, step if isinstance(step, str) else step[0]))
            return step


class FaultyServer:
    """Serve scripted faults in front of ``upstream``; see the module docstring."""

    def __init__(self, upstream: str, *, stall_seconds: float = 5.0) -> None:
        self._server = _Server(upstream.rstrip("/"), stall_seconds)
        # A short poll interval, so that stopping takes milliseconds, not the default half second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="faulty-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def plan(self, *steps: Step) -> None:
        with self._server.lock:
            self._server.steps.extend(steps)

    @property
    def received(self) -> list[tuple[str, str, str]]:
        """(method, path, step) of every request that arrived here."""
        with self._server.lock:
            return list(self._server.received)

    @property
    def forwarded(self) -> list[tuple[str, str, int]]:
        """(method, path, upstream status) of every request that reached the upstream."""
        with self._server.lock:
            return list(self._server.forwarded)

    def count(self, method: str, path: str, *, forwarded: bool = False) -> int:
        rows = self.forwarded if forwarded else self.received
        return sum(1 for row in rows if row[0] == method and row[1].split("?")[0] == path)

    def start(self) -> FaultyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultyServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
