"""A webhook receiver for tests: records every request raw and answers what the test tells it to.

Usage::

    with Receiver() as receiver:
        url = receiver.url_for("/hook")
        ...  # let the sandbox notify ``url``
        receiver.requests[0].body          # the raw bytes, exactly as sent
        receiver.reply(500, "no")          # from now on, fail every call
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Response, request

from msp_explore._server import BackgroundServer


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str  # the raw query string, undecoded
    headers: dict[str, str]
    body: bytes

    @property
    def args(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests; answers 200 "OK" unless told otherwise."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self._status, self._body, self._headers = 200, "OK", {}
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        app = Flask("tests-receiver")
        app.add_url_rule("/<path:path>", "any", self._handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        self.server = BackgroundServer(app, port=port)

    def _handle(self, path: str) -> Response:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=request.query_string.decode("latin-1"),
            headers=dict(request.headers),
            body=request.get_data(),
        )
        with self._arrived:
            self.requests.append(recorded)
            status, body, headers = self._status, self._body, dict(self._headers)
            self._arrived.notify_all()
        return Response(body, status=status, headers=headers)

    def reply(self, status: int = 200, body: str = "OK", headers: dict[str, str] | None = None) -> None:
        """Set the answer to every following request."""
        with self._lock:
            self._status, self._body, self._headers = status, body, headers or {}

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` requests have arrived."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def url_for(self, path: str) -> str:
        return self.server.url_for(path)

    def start(self) -> Receiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
