"""The Sandbox object (lifecycle, reset, auth, input errors), its command line and its pytest plugin."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

import pytest
import requests
from conftest import reference

from msp_explore.errors import MspError
from msp_explore.sandbox import DEFAULT_API_KEY, Sandbox

pytest_plugins = ["pytester"]

URL = re.compile(r"^http://127\.0\.0\.1:(\d+)/v1/json$")
ORDER = {"order_id": "sb-1", "currency": "EUR", "amount": 1000, "description": "Sandbox test"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- lifecycle ---------------------------------------------------------------------------------------
def test_context_manager_serves_and_stops() -> None:
    with Sandbox() as sandbox:
        match = URL.match(sandbox.url)
        assert match and int(match[1]) == sandbox.server.port != 0
        assert sandbox.api_key == DEFAULT_API_KEY
        response = requests.get(f"{sandbox.url}/gateways", params={"api_key": sandbox.api_key}, timeout=5)
        assert response.status_code == 200
    assert not sandbox.server.is_running()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sandbox.url}/gateways", timeout=2)


def test_start_and_stop() -> None:
    sandbox = Sandbox(api_key="my-key-123", seed=3)
    assert sandbox.start() is sandbox
    try:
        assert sandbox.server.is_running()
        with pytest.raises(MspError):
            sandbox.start()
        assert repr(sandbox) == f"<Sandbox {sandbox.url} seed=3>"
    finally:
        sandbox.stop()
    assert not sandbox.server.is_running()
    sandbox.stop()  # stopping twice is harmless


def test_each_sandbox_gets_its_own_free_port() -> None:
    with Sandbox() as one, Sandbox() as two:
        assert one.url != two.url
        assert "seed" not in repr(one) and one.url in repr(one)


def test_explicit_port() -> None:
    port = _free_port()
    with Sandbox(port=port) as sandbox:
        assert sandbox.url == f"http://127.0.0.1:{port}/v1/json"


def test_reset_forgets_everything_and_restarts_the_sequence(sandbox: Sandbox, api: requests.Session) -> None:
    first = api.post(f"{api.base}/orders", json=ORDER).json()["data"]  # type: ignore[attr-defined]
    sandbox.pay("sb-1", "completed")
    before = sandbox.get_order("sb-1")
    sandbox.advance(3600)

    sandbox.reset()
    response = api.get(f"{api.base}/orders/sb-1")  # type: ignore[attr-defined]
    assert response.status_code == 404
    assert api.get(f"{api.base}/transactions").json()["data"] == []  # type: ignore[attr-defined]
    assert sandbox.deliveries == []

    again = api.post(f"{api.base}/orders", json=ORDER).json()["data"]  # type: ignore[attr-defined]
    assert again["session_id"] == first["session_id"]
    sandbox.pay("sb-1", "completed")
    assert sandbox.get_order("sb-1") == before  # same ids, same timestamps


# -- authentication ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("how", "ok"),
    [
        ("query", True),
        ("header", True),
        ("bearer", True),
        ("nothing", False),
        ("wrong query", False),
        ("wrong header", False),
        ("wrong bearer", False),
        ("bearer without scheme", False),
    ],
)
def test_authentication(sandbox: Sandbox, how: str, ok: bool) -> None:
    key = sandbox.api_key if "wrong" not in how else sandbox.api_key + "x"
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    if how.endswith("query"):
        params["api_key"] = key
    elif how.endswith("header"):
        headers["api_key"] = key
    elif how.endswith("bearer"):
        headers["Authorization"] = f"Bearer {key}"
    elif how == "bearer without scheme":
        headers["Authorization"] = key
    response = requests.get(f"{sandbox.url}/gateways", params=params, headers=headers, timeout=5)
    if ok:
        assert response.status_code == 200 and response.json()["success"] is True
    else:
        assert response.status_code == 401
        assert response.json() == {"success": False, "data": {}, "error_code": 1032, "error_info": "Invalid API key"}


def test_transactions_without_a_key_is_forbidden(sandbox: Sandbox) -> None:
    response = requests.get(f"{sandbox.url}/transactions", timeout=5)
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})


def test_unknown_query_params_are_ignored(api: requests.Session) -> None:
    base = api.base  # type: ignore[attr-defined]
    created = api.post(f"{base}/orders", params={"locale": "en_US", "whatever": "1"}, json=ORDER)
    assert created.status_code == 200
    fetched = api.get(f"{base}/orders/sb-1", params={"order_id": "sb-1", "locale": "en_US", "x": "y"})
    assert fetched.status_code == 200 and fetched.json()["data"]["order_id"] == "sb-1"
    assert api.get(f"{base}/gateways", params={"include": "coupons", "locale": "nl_NL"}).status_code == 200


# -- bad input: the MSP error envelope, a code, the field named, never a 500 ----------------------------
def _bad(**change: Any) -> dict[str, Any]:
    body = dict(ORDER, order_id="bad-1")
    for key, value in change.items():
        if value is _MISSING:
            body.pop(key, None)
        else:
            body[key] = value
    return body


_MISSING = object()
BAD_ORDERS = {
    "missing description": (_bad(description=_MISSING), 1008, "description"),
    "empty description": (_bad(description=""), 1008, "description"),
    "description too long": (_bad(description="x" * 201), 1008, "description"),
    "description not text": (_bad(description={"a": 1}), 1008, "description"),
    "amount missing": (_bad(amount=_MISSING), 1001, "amount"),
    "amount as text": (_bad(amount="1000"), 1001, "amount"),
    "amount with decimals": (_bad(amount=10.5), 1001, "amount"),
    "amount zero": (_bad(amount=0), 1001, "amount"),
    "amount negative": (_bad(amount=-100), 1001, "amount"),
    "amount true": (_bad(amount=True), 1001, "amount"),
    "currency missing": (_bad(currency=_MISSING), 1002, "currency"),
    "currency FOOBAR": (_bad(currency="FOOBAR"), 1002, "currency"),
    "currency unsupported": (_bad(currency="AMD"), 1002, "currency"),
    "currency number": (_bad(currency=978), 1002, "currency"),
    "unknown gateway": (_bad(gateway="NOPE"), 1023, "gateway"),
    "gateway not text": (_bad(gateway=["IDEAL"]), 1023, "gateway"),
    "direct without gateway": (_bad(type="direct"), 1023, "gateway"),
    "order_id missing": (_bad(order_id=_MISSING), 1006, "order_id"),
    "order_id too long": (_bad(order_id="x" * 51), 1006, "order_id"),
    "bad type": (_bad(type="instant"), 1000, "type"),
    "bad ip": (_bad(customer={"ip_address": "999.1.1.1"}), 1007, "customer.ip_address"),
    "bad country": (_bad(customer={"country": "Netherlands"}), 1018, "customer.country"),
    "items not a string": (_bad(items=[{"name": "x"}]), 1000, "items"),
    "bad notification method": (_bad(payment_options={"notification_method": "PUT"}), 1000, "payment_options"),
    "customer not an object": (_bad(customer="Ada"), 1000, "customer"),
}


@pytest.mark.parametrize("name", list(BAD_ORDERS))
def test_bad_orders_are_rejected_with_the_field_named(api: requests.Session, name: str) -> None:
    body, code, field = BAD_ORDERS[name]
    response = api.post(f"{api.base}/orders", json=body)  # type: ignore[attr-defined]
    assert 400 <= response.status_code < 500, response.text
    payload = response.json()
    assert (payload["success"], payload["data"], payload["error_code"]) == (False, {}, code)
    assert payload["error_info"].startswith(field), payload["error_info"]
    assert api.get(f"{api.base}/orders/bad-1").status_code == 404  # type: ignore[attr-defined]


def test_duplicate_order_id(api: requests.Session) -> None:
    assert api.post(f"{api.base}/orders", json=ORDER).status_code == 200  # type: ignore[attr-defined]
    response = api.post(f"{api.base}/orders", json=ORDER)  # type: ignore[attr-defined]
    assert 400 <= response.status_code < 500
    assert response.json()["error_code"] == 1006 and "order_id" in response.json()["error_info"]


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("POST", "/orders", b"not json"),
        ("POST", "/orders", b"[1, 2]"),
        ("POST", "/orders", b""),
        ("POST", "/orders", b'"just a string"'),
        ("POST", "/orders", b"\xff\xfe"),
        ("PATCH", "/orders/none", b"{}"),
        ("POST", "/orders/none/refunds", b"null"),
        ("POST", "/orders/none/capture", b"[]"),
        ("PATCH", "/capture/none", b"7"),
        ("GET", "/transactions?limit=0", b""),
        ("GET", "/transactions?after=%%%", b""),
        ("GET", "/transactions?created_from=yesterday", b""),
        ("DELETE", "/orders/none", b""),
        ("GET", "/no/such/path", b""),
    ],
)
def test_malformed_requests_never_500(api: requests.Session, method: str, path: str, data: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    response = api.request(method, f"{api.base}{path}", data=data, headers=headers)  # type: ignore[attr-defined]
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert isinstance(response.json(), dict)


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        (
            "/orders/nope",
            404,
            {"success": False, "data": {}, "error_code": 1006, "error_info": "Invalid transaction ID"},
        ),
        (
            "/gateways/NOPE",
            404,
            {"success": False, "data": {}, "error_code": 1023, "error_info": "No gateway (payment method) available"},
        ),
        ("/transactions/123", 404, {"message": "Not found"}),
    ],
)
def test_not_found(api: requests.Session, path: str, status: int, body: dict[str, Any]) -> None:
    response = api.get(f"{api.base}{path}")  # type: ignore[attr-defined]
    assert (response.status_code, response.json()) == (status, body)


def test_gateway_ids_are_case_insensitive(api: requests.Session) -> None:
    response = api.get(f"{api.base}/gateways/mistercash")  # type: ignore[attr-defined]
    assert response.json()["data"] == {"id": "MISTERCASH", "description": "Bancontact"}


# -- the command line ----------------------------------------------------------------------------------
def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def test_cli_sandbox_runs_until_sigterm() -> None:
    port = _free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "msp_explore", "sandbox", "--port", str(port), "--api-key", "K-cli-key"]
    command += ["--seed", "0", "--retry-interval", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:
            printed = [lines.get(timeout=20) for _ in range(2)]
            url = printed[0].split(" at ", 1)[1].strip()
            key = printed[1].split(": ", 1)[1].strip()
            assert url == f"http://127.0.0.1:{port}/v1/json"
            assert key == "K-cli-key"

            response = requests.post(f"{url}/orders", json=ORDER, headers={"api_key": key}, timeout=5)
            assert response.status_code == 200
            assert requests.get(f"{url}/orders/sb-1", headers={"api_key": "nope"}, timeout=5).status_code == 401
            # bound to 127.0.0.1 only: another loopback address on the same port is not served
            if sys.platform.startswith("linux"):
                with pytest.raises(requests.ConnectionError):
                    requests.get(f"http://127.0.0.2:{port}/v1/json/gateways", timeout=2)

            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        reader.join(timeout=5)
        assert process.stderr is not None
        stderr = process.stderr.read()
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert returncode == 0, stderr
    assert "stopped" in "".join(rest)
    assert "Traceback" not in stderr


# -- the pytest plugin ---------------------------------------------------------------------------------
def test_plugin_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_pay(msp_sandbox):
            body = {"order_id": "p-1", "currency": "EUR", "amount": 1000, "description": "plugin"}
            r = requests.post(msp_sandbox.url + "/orders", json=body, headers={"api_key": msp_sandbox.api_key})
            assert r.status_code == 200
            assert msp_sandbox.pay("p-1", "completed")["status"] == "completed"

        def test_each_test_starts_empty(msp_sandbox):
            r = requests.get(msp_sandbox.url + "/orders/p-1", headers={"api_key": msp_sandbox.api_key})
            assert r.status_code == 404
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)


def test_ideal_issuers_answer_as_the_docs_example(api: requests.Session) -> None:
    """MultiSafepay's Node wrapper lists iDEAL banks with GET /issuers/ideal; the docs' example is its answer."""
    path = reference("multisafepay-docs", "openapi", "components", "examples", "responses", "idealIssuers.json")
    example = json.loads(path.read_text(encoding="utf-8"))
    for gateway in ("ideal", "IDEAL"):
        response = api.get(f"{api.base}/issuers/{gateway}")  # type: ignore[attr-defined]
        assert response.status_code == 200
        assert response.json() == example  # the same banks, codes and order
    assert all(set(item) == {"code", "description"} for item in example["data"])


@pytest.mark.parametrize("gateway", ["VISA", "PAYPAL", "nothing"])
def test_issuers_of_other_gateways_keep_their_documented_error(api: requests.Session, gateway: str) -> None:
    response = api.get(f"{api.base}/issuers/{gateway}")  # type: ignore[attr-defined]
    assert response.status_code == 404
    assert response.json() == {
        "success": False, "data": {}, "error_code": 1023, "error_info": "No gateway (payment method) available"
    }
