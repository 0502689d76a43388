"""One way to run a WSGI app in the background: the sandbox and the webhook receiver both use it.

The HTTP is cheroot's (CherryPy's production server): request parsing, keep-alive, chunked bodies,
``Expect: 100-continue`` and response writing. This module starts and stops it, and through cheroot's
public extension points (a header reader, a WSGI gateway, a server subclass) makes it:

- refuse with 400 a body length that reads two ways (two different ``Content-Length`` headers, or one
  with ``Transfer-Encoding``): read with one length and handed to the app with the other, the rest of
  the body would run as a second request;
- read a body of known length whole before the app runs, so that one cut short never reaches it;
- give ``PATH_INFO`` fully unquoted, as Werkzeug's own server and gunicorn do, so that ``%2F`` in an
  order ID reaches the sandbox's ``<path:order_id>`` routes as ``/``;
- answer an app's error with a 500 that says ``Connection: close``, and HEAD without a body;
- close a connection without an answer when the app raises ``DropConnection``;
- log to ``logging`` (at debug level), never to stderr, which in a notebook lands in the cell.

Headers spelled with underscores (MultiSafepay documents an ``api_key`` header) reach the app: cheroot
keeps them unless told otherwise, unlike Werkzeug's and waitress's servers.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import sys
import threading
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from cheroot import server as cheroot_server
from cheroot import wsgi

from .errors import MspError

log = logging.getLogger(__name__)

WORKERS = 24  # requests served at once: get_orders keeps 8 in flight, and some may stall on purpose
IDLE_TIMEOUT = 30  # seconds a kept-alive connection may wait for its next request
KEEP_ALIVE_LIMIT = 64  # idle kept-alive connections held open at once; beyond that answers say Connection: close
MAX_HEADER_BYTES = 64 * 1024  # request line and headers; more gets 414 or 413
MAX_BODY_BYTES = 16 * 1024 * 1024  # above the apps' own limits (1 MiB), so they answer those themselves
STOP_TIMEOUT = 5  # seconds stop() waits for requests in flight; any still running finish in the background


class DropConnection(BaseException):
    """Raise from a WSGI app to close the client's connection without sending any answer.

    The client sees its connection closed (``requests.ConnectionError``); the server goes on serving
    every other connection. It derives from ``BaseException``, as ``asyncio.CancelledError`` does, so
    that it passes through the ``except Exception`` with which Flask turns errors into a 500: a view,
    a ``before_request`` hook or a middleware around the app can all raise it.
    """


class _Headers(dict[bytes, bytes]):
    """The request headers as cheroot's reader fills them in, remembering every Content-Length it read."""

    def __init__(self) -> None:
        super().__init__()
        self.lengths: set[bytes] = set()

    def __setitem__(self, name: bytes, value: bytes) -> None:
        if name == b"Content-Length":
            self.lengths.add(value)
        super().__setitem__(name, value)


class _HeaderReader(cheroot_server.HeaderReader):
    """cheroot's header reader, refusing a body length that could be read two ways.

    cheroot keeps the last of repeated headers, and a ``ValueError`` from here becomes a 400 with its
    message as the body.
    """

    def __call__(self, rfile: Any, hdict: dict[bytes, bytes] | None = None) -> dict[bytes, bytes]:
        headers = _Headers()
        super().__call__(rfile, headers)
        if len(headers.lengths) > 1:
            raise ValueError("Conflicting Content-Length headers.")
        if headers.lengths and not next(iter(headers.lengths)).isdigit():  # int() would take "+1", " 1", "1_0"
            raise ValueError("Content-Length must be a number of bytes.")
        if headers.lengths and b"Transfer-Encoding" in headers:
            raise ValueError("Content-Length and Transfer-Encoding must not be sent together.")
        if hdict is None:
            hdict = {}
        hdict.update(headers)
        return hdict


class _Request(cheroot_server.HTTPRequest):
    header_reader = _HeaderReader()


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request


class _Gateway(wsgi.Gateway_10):
    """cheroot's WSGI 1.0 gateway, with a fully unquoted PATH_INFO and ``DropConnection``."""

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        # cheroot unquotes the path but leaves %2F as it is, so that a%2Fb and a/b stay apart; yet it also
        # unquotes %252F to %2F, so its PATH_INFO cannot tell a%2Fb from a%252Fb. Unquote the raw target
        # once, as PEP 3333 servers commonly do (bytes as latin-1), and let the app's routing split it.
        path = urlsplit(self.req.uri).path
        if path.startswith(b"/"):  # cheroot has refused absolute and authority forms; "*" stays as it made it
            environ["PATH_INFO"] = unquote_to_bytes(path).decode("latin-1")
        return environ

    def respond(self) -> None:
        req = self.req
        if req.chunked_read:
            # cheroot drains an unread fixed-length body before the next request, but not a chunked one,
            # whose rest would then be read as the next request: close after answering instead.
            req.close_connection = True
        elif not self._read_body():  # the client went away mid-body: nothing to run, no one to answer
            req.ready = False
            req.close_connection = True
            return
        try:
            super().respond()
        except DropConnection:
            req.ready = False  # HTTPRequest.respond: send no headers now
            req.chunked_write = False  # nor the last chunk of an answer already begun
            req.close_connection = True  # the worker closes the connection
        except Exception:
            if req.sent_headers:  # too late for a 500: cheroot logs it and closes the connection
                raise
            # cheroot's own 500 closes the connection without saying so, and a client reusing it for
            # the next request would find it closed: say Connection: close.
            log.debug("Error in the app on %s %s", self.env["REQUEST_METHOD"], self.env["PATH_INFO"], exc_info=True)
            req.close_connection = True
            req.outheaders = []  # whatever the app's start_response had put there
            self.remaining_bytes_out = None
            body = b"Internal Server Error"
            self.start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
                sys.exc_info(),
            )
            self.write(body)

    def _read_body(self) -> bool:
        """Read a body of known length whole, before the app runs; False if it was cut short.

        cheroot hands the app the socket, and a body cut short reads as a short body, not as an error
        (Werkzeug takes cheroot's ``wsgi.input_terminated`` to mean the server checks the length). A
        notification or an order cut short must not be handled as if it were whole.
        """
        length = int(self.env.get("CONTENT_LENGTH") or 0)  # digits only: _HeaderReader saw to that
        if not length:
            return True
        body = self.env["wsgi.input"].read(length)
        self.env["wsgi.input"] = io.BytesIO(body)
        return len(body) == length

    def write(self, chunk: bytes) -> None:
        # cheroot sends whatever the app returns; an answer to HEAD has none (Flask strips it, a bare app may not).
        super().write(b"" if self.req.method == b"HEAD" else chunk)


class _Server(wsgi.Server):
    ConnectionClass = _Connection
    keep_alive_conn_limit = KEEP_ALIVE_LIMIT
    max_request_header_size = MAX_HEADER_BYTES
    max_request_body_size = MAX_BODY_BYTES
    expiration_interval = 0.1  # how often the connection loop wakes; stop() waits up to this for it

    def __init__(self, bind_addr: tuple[str, int], wsgi_app: Any, **kwargs: Any) -> None:
        super().__init__(bind_addr, wsgi_app, **kwargs)
        self.gateway = _Gateway

    @classmethod
    def prepare_socket(cls, bind_addr: Any, *args: Any, **kwargs: Any) -> socket.socket:
        sock: socket.socket = super().prepare_socket(bind_addr, *args, **kwargs)
        # cheroot sets SO_REUSEADDR only for a fixed port. Without it on the first server's socket too, its
        # connections left in TIME_WAIT by a crash keep its port from a restart for a minute.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return sock

    @staticmethod
    def bind_socket(socket_: Any, bind_addr: tuple[str, int]) -> Any:
        try:
            socket_.bind(bind_addr)
        except OSError:
            socket_.close()  # cheroot would leave it to the garbage collector (a ResourceWarning)
            raise
        return socket_

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        log.debug("%s", msg, exc_info=traceback)


class BackgroundServer:
    """Serve a WSGI app on a cheroot server whose threads are all daemon threads.

    Usage::

        with BackgroundServer(app) as server:
            requests.get(server.url_for("/health"))
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.is_running():
            raise MspError(f"{self!r} is already running")
        if "LISTEN_PID" in os.environ:  # cheroot would serve systemd's inherited socket, not host:port
            raise MspError("LISTEN_PID is set (systemd socket activation); unset it to run a BackgroundServer")
        server = _Server(
            (self.host, self.port),
            self.app,
            numthreads=WORKERS,
            max=WORKERS,  # cheroot does not grow its pool by itself
            timeout=IDLE_TIMEOUT,
            shutdown_timeout=STOP_TIMEOUT,
        )
        prepared = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            # prepare() binds the socket and starts the workers. A thread is a daemon when the thread that
            # made it is one, so doing it here makes them all daemons: they never keep the process alive.
            try:
                server.prepare()
            except BaseException as exc:  # raised again in start(), in the caller's thread
                failure.append(exc)
                return
            finally:
                prepared.set()
            server.serve()

        thread = threading.Thread(target=run, name="BackgroundServer", daemon=True)
        thread.start()
        prepared.wait()
        if failure:
            thread.join()
            if isinstance(failure[0], OSError):  # a port in use, an address not of this machine
                raise MspError(f"cannot serve on {self.host}:{self.port}: {failure[0]}") from failure[0]
            raise failure[0]
        self.port = server.bind_addr[1]  # port 0 lets the OS pick a free port; this is the one it picked
        thread.name = repr(self)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Close the listening socket and every kept-alive connection; wait a while for requests in flight."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        # cheroot's stop() waits for a request in flight as long as it runs; stop() here waits STOP_TIMEOUT.
        stopping = threading.Thread(target=server.stop, name=f"stopping {self!r}", daemon=True)
        stopping.start()
        stopping.join(STOP_TIMEOUT + 1)
        thread.join(1)

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
