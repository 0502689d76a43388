"""One way to run a WSGI app in the background: the sandbox and the webhook receiver both use it."""

from __future__ import annotations

import io
import os
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .errors import MspError

KEEP_ALIVE_MAX_BODY = 4 * 1024 * 1024  # larger bodies are streamed, and their connection closed afterwards


class _EndOfFile:
    """Something a selector always finds readable: the read end of a pipe whose write end is closed."""

    def __init__(self) -> None:
        self._read, write = os.pipe()
        os.close(write)

    def fileno(self) -> int:
        return self._read


_AT_EOF = _EndOfFile()


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler, quiet, with keep-alive, and keeping headers spelled with underscores.

    - MultiSafepay documents an ``api_key`` header; Werkzeug drops every header with an underscore
      (a guard against spoofing behind proxies). Nothing sits in front of these servers, so keep them.
    - Werkzeug closes every connection because an app may leave part of a request body unread, which
      would be taken for the next request. Reading the body up front removes that risk, so connections
      stay open: a notebook fetching a thousand orders, or a sandbox notifying a receiver, does not
      pay for a new TCP connection and server thread per request.
    """

    timeout = 30  # seconds an idle keep-alive connection may wait for its next request
    disable_nagle_algorithm = True  # headers and body go out in separate writes; do not let them wait

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        for key, value in self.headers.items():
            if "_" in key:
                environ.setdefault("HTTP_" + key.upper().replace("-", "_"), value)
        self._keep_alive = False
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower() and length.isdigit():
            if int(length) <= KEEP_ALIVE_MAX_BODY:
                environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)))
                self._keep_alive = True
                # After each response Werkzeug drains whatever the socket holds, which would swallow the
                # next request on a kept-alive connection. Point that drain at an empty, at-EOF source;
                # run_wsgi puts the real ones back.
                self.rfile, self.connection = io.BytesIO(), _AT_EOF
        return environ

    def run_wsgi(self) -> None:
        rfile, connection = self.rfile, self.connection
        try:
            super().run_wsgi()
        finally:
            self.rfile, self.connection = rfile, connection

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and getattr(self, "_keep_alive", False):
            return  # the body was read in full: the connection can carry the next request
        super().send_header(keyword, value)

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class BackgroundServer:
    """Serve a WSGI app on a threaded Werkzeug server in a daemon thread.

    Usage::

        with BackgroundServer(app) as server:
            requests.get(server.url_for("/health"))
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.is_running():
            raise MspError(f"{self!r} is already running")
        # port 0 lets the OS pick a free port; read the real one back from the socket.
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=_Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name=repr(self), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` is called from elsewhere (CLI use)."""
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=_Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._server.serve_forever()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def url_for(self, path: str = "") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} http://{self.host}:{self.port}>"
