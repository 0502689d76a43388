"""The HTTP server under the sandbox and the receiver, spoken to byte by byte over real sockets.

Every request here goes to a real ``BackgroundServer``; the raw ones are written to a socket by hand,
so that what the server does with bad lines, kept-alive connections and odd bodies is what is tested,
not what a client library would smooth over.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from msp_explore._server import MAX_HEADERS, BackgroundServer


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A WSGI app that answers with what it was sent; ``/fail`` raises, ``/empty`` answers 204."""
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("the app failed")
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
    start_response("200 OK", [("Content-Type", "application/json")])  # no length: the server adds it
    return [answer[:10], answer[10:]]


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(echo) as server:
        yield server


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


def test_a_connection_carries_one_request_after_another(server: BackgroundServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        seen = []
        for number in range(3):
            connection.request("POST", f"/orders/{number}", body=f"body {number}", headers={"api_key": "k"})
            response = connection.getresponse()
            assert response.status == 200 and not response.will_close
            assert response.getheader("Content-Length") == str(len(body := response.read()))
            seen.append(json.loads(body))
    finally:
        connection.close()
    assert [s["body"] for s in seen] == ["body 0", "body 1", "body 2"]  # no body read into the next request
    assert len({s["port"] for s in seen}) == 1  # one TCP connection
    assert seen[0]["api_key"] == "k"  # kept, although Werkzeug drops headers with underscores


def test_a_requests_session_reuses_its_connection(server: BackgroundServer) -> None:
    with requests.Session() as session:
        ports = {session.get(server.url_for("/x"), timeout=5).json()["port"] for _ in range(5)}
    assert len(ports) == 1


def test_status_headers_and_body_leave_in_one_write(server: BackgroundServer) -> None:
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)  # Nagle is off, so anything written separately would arrive separately
    head, _, body = first.partition(b"\r\n\r\n")
    assert status_line(head) == b"HTTP/1.1 200 OK"
    assert json.loads(body)["path"] == "/one"


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
    ],
)
def test_a_bad_request_line_gets_a_status_and_a_closed_connection(
    server: BackgroundServer, request_line: bytes, status: bytes
) -> None:
    response = exchange(server, request_line + b"Host: x\r\n\r\n")
    assert status_line(response).startswith(b"HTTP/1.1 " + status)
    assert not response.endswith(b"<still open>")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param(b"Host: x\r\nno colon here\r\n", b"400", id="no-colon"),
        pytest.param(b"Host: x\r\nX-A: 1\r\n  folded\r\n", b"400", id="folded"),
        pytest.param(b"Host: x\r\nX-A : 1\r\n", b"400", id="space-before-colon"),
        pytest.param(b"Host: x\r\n: empty name\r\n", b"400", id="empty-name"),
        pytest.param(b"X-Long: " + b"a" * 70000 + b"\r\n", b"431", id="line-too-long"),
        pytest.param(b"".join(b"X-%d: 1\r\n" % n for n in range(MAX_HEADERS + 1)), b"431", id="too-many"),
    ],
)
def test_a_bad_header_gets_a_status_that_says_so(server: BackgroundServer, headers: bytes, status: bytes) -> None:
    response = exchange(server, b"GET / HTTP/1.1\r\n" + headers + b"\r\n")
    assert status_line(response).startswith(b"HTTP/1.1 " + status)
    assert not response.endswith(b"<still open>")


def test_exactly_the_allowed_number_of_headers_is_fine(server: BackgroundServer) -> None:
    headers = b"".join(b"X-%d: 1\r\n" % n for n in range(MAX_HEADERS - 2))  # with Host and Connection
    response = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"Connection: close\r\n\r\n")
    assert status_line(response) == b"HTTP/1.1 200 OK"


def test_connection_close_and_http_1_0_close_the_connection(server: BackgroundServer) -> None:
    closed = exchange(server, b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    old = exchange(server, b"GET /b HTTP/1.0\r\n\r\n")
    for response in (closed, old):
        assert b"\r\nConnection: close\r\n" in response and not response.endswith(b"<still open>")
        assert json.loads(response.partition(b"\r\n\r\n")[2])["method"] == "GET"


def test_http_1_0_asking_for_keep_alive_is_told_it_is_kept(server: BackgroundServer) -> None:
    response = exchange(server, b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert b"\r\nConnection: keep-alive\r\n" in response and response.endswith(b"<still open>")


def test_head_gets_the_headers_without_a_body(server: BackgroundServer) -> None:
    response = exchange(server, b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_line(response) == b"HTTP/1.1 200 OK"
    assert response.endswith(b"\r\n\r\n")


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


def test_a_body_cut_short_never_reaches_the_app(server: BackgroundServer) -> None:
    calls = []
    with BackgroundServer(lambda environ, start_response: calls.append(environ) or []) as counting:
        with socket.create_connection((counting.host, counting.port), timeout=2) as sock:
            sock.sendall(b"POST /n HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"order_id\": ")
            sock.shutdown(socket.SHUT_WR)  # and no more: the sender died mid-body
            assert sock.recv(65536) == b""  # closed without an answer
    assert calls == []


def test_expect_100_continue_gets_one_interim_answer(server: BackgroundServer) -> None:
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"body")
        final = sock.recv(65536)
    assert status_line(final) == b"HTTP/1.1 200 OK" and json.loads(final.partition(b"\r\n\r\n")[2])["body"] == "body"


def test_an_app_that_raises_gets_a_500_and_the_connection_goes_on(server: BackgroundServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request("GET", "/fail")
        failed = connection.getresponse()
        body = failed.read()
        assert failed.status == 500 and b"Internal Server Error" in body
        assert b"the app failed" not in body  # no traceback goes to the client
        connection.request("GET", "/after")
        assert json.loads(connection.getresponse().read())["path"] == "/after"
    finally:
        connection.close()


def test_a_path_starting_with_two_slashes_is_not_taken_for_a_host(server: BackgroundServer) -> None:
    response = exchange(server, b"GET //evil.example/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert json.loads(response.partition(b"\r\n\r\n")[2])["path"] == "/evil.example/x"
