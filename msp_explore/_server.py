"""One way to run a WSGI app in the background: the sandbox and the webhook receiver both use it."""

from __future__ import annotations

import http.client
import io
import threading
import traceback
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .errors import MspError

KEEP_ALIVE_MAX_BODY = 4 * 1024 * 1024  # larger bodies are streamed, and their connection closed afterwards
MAX_HEADERS = 100  # as http.server allows
MAX_LINE = 65536

_RUNNING: set[tuple[str, int]] = set()  # (host, port) of every BackgroundServer serving in this process


def served_here(url: str) -> bool:
    """Whether a URL is served by a ``BackgroundServer`` in this very process (whose threads share its GIL)."""
    parts = urlsplit(url)
    try:
        return (parts.hostname, parts.port) in _RUNNING
    except ValueError:  # a port that is not a number
        return False


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler, quiet, with keep-alive, and keeping headers spelled with underscores.

    - MultiSafepay documents an ``api_key`` header; Werkzeug drops every header with an underscore
      (a guard against spoofing behind proxies). Nothing sits in front of these servers, so keep them.
    - Werkzeug closes every connection, because an app may leave part of a request body unread, which
      would then be taken for the next request. Here a body of known, modest length is read up front,
      and the app's whole answer goes out in one write with its length, so the connection stays open:
      a notebook fetching a thousand orders, or a sandbox notifying a receiver, does not pay for a new
      TCP connection and server thread per request. Anything else (a chunked or very large body) goes
      through Werkzeug's own ``run_wsgi``, which streams it and closes the connection afterwards.
    - Headers are split on their colon rather than run through the ``email`` package's parser, which
      took a quarter of the CPU of answering a GET.
    """

    timeout = 30  # seconds an idle keep-alive connection may wait for its next request
    disable_nagle_algorithm = True

    def parse_request(self) -> bool:
        """Read the request line and headers; on bad ones send the error and return False."""
        self.command = None  # type: ignore[assignment]  # send_error reads these
        self.request_version = "HTTP/1.0"
        self.close_connection = True
        self.requestline = line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split(" ")
        if len(words) != 3 or not all(words):
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({line!r})")
            return False
        command, path, version = words
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            known = version.startswith("HTTP/") and version[5:].replace(".", "").isdigit()
            status = HTTPStatus.HTTP_VERSION_NOT_SUPPORTED if known else HTTPStatus.BAD_REQUEST
            self.send_error(status, f"Bad request version ({version!r})")
            return False
        self.command, self.request_version = command, version
        # As http.server does (gh-87389): a path of '//host/x' could be taken for another host.
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        headers = self.headers = http.client.HTTPMessage()
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Header line too long")
                return False
            if raw in (b"\r\n", b"\n", b""):
                break
            name, colon, value = str(raw, "iso-8859-1").partition(":")
            if not colon or not name or name != name.strip():  # no colon, or a folded or padded name
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad header line ({raw[:80]!r})")
                return False
            headers[name] = value.strip()
        else:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
            return False
        connection = headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        return True

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        for key, value in self.headers.items():
            if "_" in key:
                environ.setdefault("HTTP_" + key.upper().replace("-", "_"), value)
        return environ

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0").strip() or "0"
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if chunked or not length.isdigit() or int(length) > KEEP_ALIVE_MAX_BODY:
            self.close_connection = True
            super().run_wsgi()
            return
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        size = int(length)
        body = self.rfile.read(size)
        if len(body) < size:  # the client went away mid-body: nothing to answer, nothing to run
            self.close_connection = True
            return
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            status, headers, chunks = _call(self.server.app, environ)
        except Exception:
            self.log_error("Error on request %r:\n%s", self.requestline, traceback.format_exc())
            status, headers, chunks = _call(InternalServerError(), environ)
        self._send_whole(status, headers, b"".join(chunks))

    def _send_whole(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Status line, headers and body in one write."""
        code = int(status.split(None, 1)[0])
        lines = [
            f"{self.protocol_version} {status}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        lines += [f"{name}: {value}" for name, value in headers]
        bodiless = code < 200 or code in (204, 304)
        if self.command == "HEAD" or bodiless:
            body = b""
        if not bodiless and self.command != "HEAD" and not any(n.lower() == "content-length" for n, _ in headers):
            lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Run a WSGI app to the end: its status, headers and body chunks."""
    answer: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer[:] = [status, headers]
        return chunks.append  # the WSGI write() callable

    iterable = app(environ, start_response)
    try:
        chunks.extend(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return answer[0], answer[1], chunks


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
        _RUNNING.add((self.host, self.port))
        self._thread = threading.Thread(target=self._server.serve_forever, name=repr(self), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        _RUNNING.discard((self.host, self.port))
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

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
