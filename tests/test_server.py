"""The HTTP server under the sandbox and the receiver, spoken to over real sockets.

Every request here goes to a real ``BackgroundServer``; the raw ones are written to a socket by hand,
so that what the server does with conflicting lengths, kept-alive connections and odd bodies is what
is tested, not what a client library would smooth over.
"""

from __future__ import annotations

import copy
import http.client
import json
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from flask import Flask, request

from msp_explore._server import MAX_HEADER_BYTES, BackgroundServer, DropConnection
from msp_explore.errors import MspError
from msp_explore.sandbox import Sandbox
from msp_explore.tutorial import TUTORIAL_ORDER

ROOT = Path(__file__).resolve().parents[1]


class Echo:
    """A WSGI app that answers with what it was sent, and keeps the path of every call.

    ``/fail`` raises, ``/empty`` answers 204, ``/drop`` raises ``DropConnection``.
    """

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        self.paths.append(path)
        if path == "/fail":
            raise RuntimeError("the app failed")
        if path == "/drop":
            raise DropConnection
        if path == "/empty":
            start_response("204 No Content", [])
            return []
        body = environ["wsgi.input"].read()
        seen = {
            "method": environ["REQUEST_METHOD"],
            "path": path,
            "body": body.decode(),
            "port": environ["REMOTE_PORT"],
            "api_key": environ.get("HTTP_API_KEY"),
        }
        answer = json.dumps(seen).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
        return [answer[:10], answer[10:]]


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(Echo()) as server:
        yield server


@pytest.fixture
def echo() -> Iterator[tuple[BackgroundServer, Echo]]:
    """A server of its own, for counting the calls its app gets."""
    app = Echo()
    with BackgroundServer(app) as server:
        yield server, app


def exchange(server: BackgroundServer, data: bytes) -> bytes:
    """Send raw bytes, then read until the server closes the connection (or goes quiet for 2 s)."""
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            received += b"<still open>"
        return received


def status_line(response: bytes) -> bytes:
    return response.split(b"\r\n", 1)[0]


def body_of(response: bytes) -> Any:
    return json.loads(response.partition(b"\r\n\r\n")[2])


# -- lifecycle ------------------------------------------------------------------------------------------
def test_port_0_is_replaced_by_the_port_it_listens_on() -> None:
    server = BackgroundServer(Echo())
    with server:
        assert server.port != 0 and server.is_running()
        assert repr(server) == f"<BackgroundServer http://127.0.0.1:{server.port}>"
        assert requests.get(server.url_for("/here"), timeout=5).json()["path"] == "/here"
    assert not server.is_running()


def test_a_second_start_raises() -> None:
    with BackgroundServer(Echo()) as server:
        with pytest.raises(MspError, match="already running"):
            server.start()


def test_a_port_in_use_is_a_clear_error(server: BackgroundServer) -> None:
    with pytest.raises(MspError, match="Address already in use"):
        BackgroundServer(Echo(), port=server.port).start()


def test_systemd_socket_activation_is_refused_rather_than_served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PID", "1")  # cheroot would serve file descriptor 3 instead of host:port
    with pytest.raises(MspError, match="LISTEN_PID"):
        BackgroundServer(Echo()).start()


def test_it_can_start_again_after_a_stop() -> None:
    server = BackgroundServer(Echo())
    server.start()
    server.stop()
    server.start()
    try:
        assert requests.get(server.url_for("/again"), timeout=5).status_code == 200
    finally:
        server.stop()


def test_stop_closes_a_kept_alive_connection(echo: tuple[BackgroundServer, Echo]) -> None:
    server, app = echo
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request("GET", "/before")
        response = connection.getresponse()
        response.read()
        assert not response.will_close
        server.stop()
        with pytest.raises(ConnectionError):  # reset, broken pipe, or closed without an answer
            connection.request("GET", "/after")
            connection.getresponse()
    finally:
        connection.close()
    assert app.paths == ["/before"]


def test_stop_answers_the_request_in_flight_then_closes_its_connection() -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        entered.set()
        release.wait(10)
        start_response("200 OK", [("Content-Length", "4")])
        return [b"done"]

    server = BackgroundServer(slow)
    server.start()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert entered.wait(10)
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        release.set()
        received = b""
        while chunk := sock.recv(65536):  # until the server closes it
            received += chunk
        stopping.join()
    assert status_line(received) == b"HTTP/1.1 200 OK" and received.endswith(b"done")


CHILD = """
import socket, sys
import requests
from msp_explore._server import BackgroundServer
from msp_explore.sandbox import Sandbox

def failing(environ, start_response):
    raise RuntimeError("an app error, which must not be printed")

sandbox = Sandbox().start()
failing_server = BackgroundServer(failing)
failing_server.start()
session = requests.Session()  # keeps its connections open, to the end
assert session.get(sandbox.url + "/orders/x", headers={"api_key": sandbox.api_key}).status_code == 404
assert session.get(failing_server.url_for("/")).status_code == 500
with socket.create_connection((sandbox.server.host, sandbox.server.port)) as sock:
    sock.sendall(b"NOT HTTP\\r\\n\\r\\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 400")
if sys.argv[1] == "stop":
    sandbox.stop()
    failing_server.stop()
print("done", flush=True)
"""


@pytest.mark.parametrize("ending", ["stop", "forget"])
def test_a_process_with_a_server_exits_at_once_and_prints_nothing(ending: str) -> None:
    # cheroot's own threads are not daemons: a process that kept one would never exit.
    result = subprocess.run([sys.executable, "-c", CHILD, ending], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "done\n", "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


HOLDER = """
import sys, time
from msp_explore.sandbox import Sandbox
sandbox = Sandbox(port=int(sys.argv[1])).start()
print(sandbox.server.port, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("first_port", ["fixed", "picked"])
def test_the_port_of_a_killed_process_can_be_served_again_at_once(first_port: str) -> None:
    requested = free_port() if first_port == "fixed" else 0
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(requested)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None
            port = int(child.stdout.readline())
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/v1/json/orders/x")
            connection.getresponse().read()
        finally:
            child.kill()
    connection.close()  # after the server side's close: that side's end now waits in TIME_WAIT
    with BackgroundServer(Echo(), port=port) as again:
        assert requests.get(again.url_for("/back"), timeout=5).json()["path"] == "/back"


def test_no_line_is_printed_and_errors_go_to_logging_at_debug(
    server: BackgroundServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG, logger="msp_explore._server"):
        assert requests.get(server.url_for("/fail"), timeout=5).status_code == 500
    assert capfd.readouterr() == ("", "")
    failures = [r for r in caplog.records if r.exc_info and str(r.exc_info[1]) == "the app failed"]
    assert failures and all(r.name == "msp_explore._server" and r.levelno == logging.DEBUG for r in failures)


def test_many_requests_are_served_at_once() -> None:
    together = threading.Barrier(16, timeout=10)  # no answer until 16 requests are in the app at the same time

    def wait_for_all(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        together.wait()
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    statuses: list[int] = []
    with BackgroundServer(wait_for_all) as server:
        threads = [
            threading.Thread(target=lambda: statuses.append(requests.get(server.url_for("/"), timeout=20).status_code))
            for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 16


# -- keep-alive, headers, paths ------------------------------------------------------------------------
def test_a_connection_carries_one_request_after_another(server: BackgroundServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        seen = []
        for number in range(3):
            connection.request("POST", f"/orders/{number}", body=f"body {number}", headers={"api_key": "k"})
            response = connection.getresponse()
            assert response.status == 200 and not response.will_close
            seen.append(json.loads(response.read()))
    finally:
        connection.close()
    assert [s["body"] for s in seen] == ["body 0", "body 1", "body 2"]  # no body read into the next request
    assert len({s["port"] for s in seen}) == 1  # one TCP connection
    assert seen[0]["api_key"] == "k"  # kept, although Werkzeug's and waitress's servers drop underscores


def test_a_requests_session_reuses_its_connection(server: BackgroundServer) -> None:
    with requests.Session() as session:
        ports = {session.get(server.url_for("/x"), timeout=5).json()["port"] for _ in range(5)}
    assert len(ports) == 1


def test_an_unread_body_is_not_taken_for_the_next_request() -> None:
    paths = []

    def ignore_body(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        paths.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    with BackgroundServer(ignore_body) as server:
        response = exchange(
            server,
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(smuggled), smuggled)
            + b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    assert response.count(b"HTTP/1.1 200 OK") == 2
    assert paths == ["/a", "/b"]


@pytest.mark.parametrize(
    "lengths",
    [
        pytest.param(b"Content-Length: 3\r\nContent-Length: 40\r\n", id="two-lengths"),
        pytest.param(b"Content-Length: 40\r\nContent-Length: 3\r\n", id="two-lengths-reversed"),
        pytest.param(b"Content-Length: 3, 40\r\n", id="a-list"),
        pytest.param(b"Content-Length: +3\r\n", id="signed"),
        pytest.param(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", id="with-chunked"),
    ],
)
def test_a_body_length_that_reads_two_ways_gets_400_and_runs_nothing(
    echo: tuple[BackgroundServer, Echo], lengths: bytes
) -> None:
    server, app = echo
    second = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    response = exchange(server, b"POST /first HTTP/1.1\r\nHost: x\r\n" + lengths + b"\r\nabc" + second)
    assert status_line(response) == b"HTTP/1.1 400 Bad Request"
    assert response.count(b"HTTP/1.1") == 1 and not response.endswith(b"<still open>")
    assert app.paths == []


def test_the_same_length_twice_is_one_length(echo: tuple[BackgroundServer, Echo]) -> None:
    server, app = echo
    response = exchange(
        server,
        b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert response.count(b"HTTP/1.1 200 OK") == 2
    assert app.paths == ["/first", "/second"]


def test_an_api_key_header_reaches_the_app(server: BackgroundServer) -> None:
    response = exchange(server, b"GET /k HTTP/1.1\r\nHost: x\r\napi_key: KEY\r\nConnection: close\r\n\r\n")
    assert body_of(response)["api_key"] == "KEY"


def test_the_sandbox_takes_the_api_key_header() -> None:
    order = copy.deepcopy(TUTORIAL_ORDER)
    with Sandbox() as sandbox:
        created = requests.post(f"{sandbox.url}/orders", json=order, headers={"api_key": sandbox.api_key}, timeout=5)
        refused = requests.post(f"{sandbox.url}/orders", json=order, headers={"api_key": "wrong"}, timeout=5)
    assert created.status_code == 200 and created.json()["success"] is True
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("target", "path"),
    [
        pytest.param(b"/orders/a%2Fb", "/orders/a/b", id="quoted-slash"),
        pytest.param(b"/orders/a%2fb", "/orders/a/b", id="lower-case"),
        pytest.param(b"/orders/a%252Fb", "/orders/a%2Fb", id="quoted-percent"),
        pytest.param(b"/orders/a//b", "/orders/a//b", id="double-slash"),
        pytest.param(b"/orders/%2F%2Fx", "/orders///x", id="leading-slashes"),
        pytest.param(b"/orders/caf%C3%A9?x=%2F", "/orders/caf\xc3\xa9", id="utf8-and-query"),
    ],
)
def test_path_info_is_the_path_unquoted_once(server: BackgroundServer, target: bytes, path: str) -> None:
    response = exchange(server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert body_of(response)["path"] == path  # as PEP 3333 has it: bytes, decoded as latin-1


@pytest.mark.parametrize("order_id", ["a/b", "a//b", "a%2Fb", "trailing/"])
def test_an_order_id_with_slashes_reaches_its_order(order_id: str) -> None:
    order = copy.deepcopy(TUTORIAL_ORDER)
    order["order_id"] = order_id
    with Sandbox() as sandbox, requests.Session() as session:
        session.headers["api_key"] = sandbox.api_key
        assert session.post(f"{sandbox.url}/orders", json=order, timeout=5).status_code == 200
        found = session.get(f"{sandbox.url}/orders/{quote(order_id, safe='')}", timeout=5)
    assert found.status_code == 200 and found.json()["data"]["order_id"] == order_id


# -- answers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        pytest.param(b"GET /\r\n", b"400", id="no-version"),
        pytest.param(b"GET  / HTTP/1.1\r\n", b"400", id="double-space"),
        pytest.param(b"GET / HTTP/1.1 extra\r\n", b"400", id="four-words"),
        pytest.param(b"GET / FTP/1.1\r\n", b"400", id="not-http"),
        pytest.param(b"GET / HTTP/one\r\n", b"400", id="bad-number"),
        pytest.param(b"GET / HTTP/2.0\r\n", b"505", id="http-2"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\r\n", b"400", id="tls-hello"),
        pytest.param(b"GET //evil.example/x HTTP/1.1\r\n", b"400", id="authority-form"),
    ],
)
def test_a_bad_request_line_gets_a_status_and_a_closed_connection(
    echo: tuple[BackgroundServer, Echo], request_line: bytes, status: bytes
) -> None:
    server, app = echo
    response = exchange(server, request_line + b"Host: x\r\n\r\n")
    assert status_line(response).startswith(b"HTTP/1.1 " + status)
    assert not response.endswith(b"<still open>")
    assert app.paths == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param(b"Host: x\r\nno colon here\r\n", b"400", id="no-colon"),
        pytest.param(b"X-Long: " + b"a" * MAX_HEADER_BYTES + b"\r\n", b"413", id="too-long"),
        pytest.param(b"".join(b"X-%d: 1\r\n" % n for n in range(MAX_HEADER_BYTES // 8)), b"413", id="too-many"),
    ],
)
def test_a_bad_header_gets_a_status_that_says_so(server: BackgroundServer, headers: bytes, status: bytes) -> None:
    response = exchange(server, b"GET / HTTP/1.1\r\n" + headers + b"\r\n")
    assert status_line(response).startswith(b"HTTP/1.1 " + status)
    assert not response.endswith(b"<still open>")


def test_connection_close_and_http_1_0_close_the_connection(server: BackgroundServer) -> None:
    closed = exchange(server, b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    old = exchange(server, b"GET /b HTTP/1.0\r\n\r\n")
    assert b"\r\nConnection: close\r\n" in closed
    for response in (closed, old):
        assert not response.endswith(b"<still open>")
        assert body_of(response)["method"] == "GET"


def test_head_gets_the_headers_without_a_body(server: BackgroundServer) -> None:
    response = exchange(server, b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_line(response) == b"HTTP/1.1 200 OK"
    assert b"\r\nContent-Length: " in response and response.endswith(b"\r\n\r\n")


def test_no_content_gets_no_length_and_no_body(server: BackgroundServer) -> None:
    response = exchange(server, b"GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_line(response) == b"HTTP/1.1 204 No Content"
    assert b"Content-Length" not in response and response.endswith(b"\r\n\r\n")


def test_a_chunked_body_is_read_whole_and_the_connection_closed(server: BackgroundServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request("POST", "/c", body=iter([b"hello", b" world"]), encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 200 and response.will_close
        assert json.loads(response.read())["body"] == "hello world"
    finally:
        connection.close()


@pytest.mark.parametrize("app_kind", ["wsgi", "flask"])
def test_a_body_cut_short_never_reaches_the_app(app_kind: str) -> None:
    bodies: list[bytes] = []

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    flask_app = Flask("cut")
    flask_app.post("/n")(lambda: bodies.append(request.get_data()) or "ok")
    with BackgroundServer(wsgi_app if app_kind == "wsgi" else flask_app) as server:
        with socket.create_connection((server.host, server.port), timeout=2) as sock:
            sock.sendall(b'POST /n HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"order_id": ')
            sock.shutdown(socket.SHUT_WR)  # and no more: the sender died mid-body
            assert sock.recv(65536) == b""  # closed without an answer
    assert bodies == []


def test_expect_100_continue_gets_one_interim_answer(server: BackgroundServer) -> None:
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"body")
        final = b""
        while chunk := sock.recv(65536):
            final += chunk
    assert status_line(final) == b"HTTP/1.1 200 OK" and body_of(final)["body"] == "body"


def test_an_app_that_raises_gets_a_500_and_the_server_goes_on(server: BackgroundServer) -> None:
    with requests.Session() as session:
        failed = session.get(server.url_for("/fail"), timeout=5)
        assert failed.status_code == 500 and failed.headers["Connection"] == "close"
        assert failed.text == "Internal Server Error"  # no traceback goes to the client
        assert session.get(server.url_for("/after"), timeout=5).json()["path"] == "/after"


# -- DropConnection ---------------------------------------------------------------------------------
def dropping_flask_app() -> Flask:
    app = Flask("drops")

    @app.get("/drop")
    def drop() -> str:
        raise DropConnection

    @app.get("/fine")
    def fine() -> str:
        return "fine"

    return app


@pytest.mark.parametrize("app_kind", ["wsgi", "flask"])
def test_drop_connection_closes_without_an_answer_and_the_server_goes_on(app_kind: str) -> None:
    app = Echo() if app_kind == "wsgi" else dropping_flask_app()
    fine = "/k" if app_kind == "wsgi" else "/fine"
    with BackgroundServer(app) as server, requests.Session() as other, requests.Session() as dropped:
        assert other.get(server.url_for(fine), timeout=5).status_code == 200  # a kept-alive connection
        with pytest.raises(requests.ConnectionError):
            dropped.get(server.url_for("/drop"), timeout=5)
        assert exchange(server, b"GET /drop HTTP/1.1\r\nHost: x\r\n\r\n") == b""  # not a byte of an answer
        assert other.get(server.url_for(fine), timeout=5).status_code == 200
        assert dropped.get(server.url_for(fine), timeout=5).status_code == 200
