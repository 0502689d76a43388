"""Webhook signatures (sign/verify against MultiSafepay's own test vector) and the sandbox's deliveries."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from _receiver import Receiver
from conftest import reference

from msp_explore.errors import SignatureError
from msp_explore.sandbox import Sandbox
from msp_explore.webhooks import encode_body, sign_notification, verify_notification


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    return json.loads(reference("webhook-test-vector.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(receiver_server: Receiver) -> Iterator[Receiver]:
    receiver_server.clear()
    receiver_server.reply(200, "OK")
    yield receiver_server
    receiver_server.reply(200, "OK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _order(api: requests.Session, order_id: str, notification_url: str, method: str = "POST", **extra: Any) -> None:
    body = {
        "order_id": order_id,
        "currency": "EUR",
        "amount": 1000,
        "description": "Webhook test",
        "payment_options": {"notification_url": notification_url, "notification_method": method},
        **extra,
    }
    response = api.post(f"{api.base}/orders", json=body)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text


# -- signing: MultiSafepay's worked example -------------------------------------------------------------
def test_sign_reproduces_the_documented_auth_header(vector: dict[str, Any]) -> None:
    auth = sign_notification(vector["payload"], vector["api_key"], vector["timestamp"])
    assert auth == vector["auth_header"]
    assert base64.b64decode(auth).decode() == f"{vector['timestamp']}:{vector['signature']}"
    # bytes and str bodies sign the same; the stray ", " in the payload is kept as given
    assert sign_notification(vector["payload"].encode(), vector["api_key"], str(vector["timestamp"])) == auth


def test_verify_accepts_the_documented_notification(vector: dict[str, Any]) -> None:
    ts = verify_notification(vector["payload"], vector["auth_header"], vector["api_key"], now=vector["timestamp"] + 5)
    assert ts == vector["timestamp"]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing header", "malformed"),
        ("not base64", "malformed"),
        ("no colon", "malformed"),
        ("timestamp not a number", "malformed"),
        ("short signature", "malformed"),
        ("tampered body", "signature"),
        ("body re-serialised", "signature"),
        ("wrong key", "signature"),
        ("signature of another timestamp", "signature"),
        ("old timestamp", "stale"),
    ],
)
def test_verify_rejects(vector: dict[str, Any], case: str, reason: str) -> None:
    body, auth, key = vector["payload"], vector["auth_header"], vector["api_key"]
    ts, signature = vector["timestamp"], vector["signature"]
    now = ts + 5
    if case == "missing header":
        auth = ""
    elif case == "not base64":
        auth = "this is not base64!"
    elif case == "no colon":
        auth = _b64(f"{ts}{signature}")
    elif case == "timestamp not a number":
        auth = _b64(f"yesterday:{signature}")
    elif case == "short signature":
        auth = _b64(f"{ts}:{signature[:64]}")
    elif case == "tampered body":
        body = body.replace('"amount":1000', '"amount":1', 1)
    elif case == "body re-serialised":  # the raw bytes are what is signed: re-encoding breaks it
        body = json.dumps(json.loads(body), separators=(",", ":"))
    elif case == "wrong key":
        key = key[::-1]
    elif case == "signature of another timestamp":
        auth = _b64(f"{ts + 1}:{signature}")
        now = ts + 6
    elif case == "old timestamp":
        now = ts + 601
    with pytest.raises(SignatureError) as info:
        verify_notification(body, auth, key, now=now)
    assert info.value.reason == reason


def test_verify_tolerance_boundary_and_none(vector: dict[str, Any]) -> None:
    args = (vector["payload"], vector["auth_header"], vector["api_key"])
    assert verify_notification(*args, now=vector["timestamp"] + 600) == vector["timestamp"]
    assert verify_notification(*args, tolerance=None, now=vector["timestamp"] + 10**8) == vector["timestamp"]
    with pytest.raises(SignatureError, match="stale|old"):
        verify_notification(*args, tolerance=60, now=vector["timestamp"] + 61)


# -- agreement with the official SDK on the bodies the sandbox sends ----------------------------------
BODIES = {
    "plain": {"amount": 1000, "order_id": "a-1", "status": "completed", "costs": [{"amount": 0.29}]},
    "non-ascii": {"description": "Café ☕ déjà", "customer": {"first_name": "Zoë", "city": "Łódź"}},
    "nested": {"related_transactions": None, "var1": "a, b: c", "custom_info": {"custom_1": '"q"'}},
}


@pytest.mark.parametrize("name", sorted(BODIES))
@pytest.mark.parametrize("tamper", [False, True])
def test_sdk_and_verify_agree_on_compact_bodies(name: str, tamper: bool) -> None:
    from multisafepay.util import Webhook

    key = "agree-key-1234567890"
    body = encode_body(BODIES[name])
    ts = int(time.time())
    auth = sign_notification(body, key, ts)
    if tamper:
        body = body.replace(b'"', b'"x', 1)  # still valid JSON, different bytes
    ours: bool
    try:
        verify_notification(body, auth, key)
        ours = True
    except SignatureError:
        ours = False
    assert ours is (not tamper)
    assert Webhook.validate(body.decode("utf-8"), auth, key) is ours


def test_sdk_rejects_the_documented_payload_that_verify_accepts(vector: dict[str, Any]) -> None:
    """The docs' sample keeps a stray ", "; the SDK re-serialises before hashing, so it fails there."""
    from multisafepay.util import Webhook

    args = (vector["payload"], vector["auth_header"], vector["api_key"])
    # The docs' vector was signed years ago, so the SDK's age check would refuse it for that alone;
    # its window is opened here to show the re-serialisation is what fails (this is the docs' payload,
    # not a sandbox notification: those pass with the default window, see test_sdk.py).
    assert Webhook.validate(*args, validation_time_in_seconds=0) is False
    assert verify_notification(*args, now=vector["timestamp"]) == vector["timestamp"]


# -- delivery ---------------------------------------------------------------------------------------
def test_post_notification(sandbox: Sandbox, api: requests.Session, receiver: Receiver) -> None:
    _order(api, "hook-1", receiver.url_for("/hook"), description="Café ☕ déjà")
    sandbox.pay("hook-1", "completed")

    assert len(receiver.requests) == 1
    call = receiver.requests[0]
    assert call.method == "POST" and call.path == "/hook"
    assert list(call.args) == ["transactionid", "timestamp"]
    assert call.args["transactionid"] == "hook-1"
    assert call.headers["Content-Type"] == "application/json"
    # the body is the bare order, compact UTF-8 JSON, exactly as GET returns it
    order = api.get(f"{api.base}/orders/hook-1").json()["data"]  # type: ignore[attr-defined]
    assert json.loads(call.body) == order
    assert call.body == json.dumps(order, separators=(",", ":"), ensure_ascii=False).encode()
    assert "Café ☕ déjà".encode() in call.body
    ts = verify_notification(call.body, call.headers["Auth"], sandbox.api_key, now=int(call.args["timestamp"]))
    assert ts == int(call.args["timestamp"])

    [delivery] = sandbox.deliveries
    assert delivery["attempt"] == 1 and delivery["acknowledged"] is True
    assert delivery["status_code"] == 200 and delivery["timestamp"] == ts
    assert delivery["url"] == receiver.url_for(f"/hook?{call.query}")


def test_notification_url_with_a_query_gets_an_ampersand(
    sandbox: Sandbox, api: requests.Session, receiver: Receiver
) -> None:
    _order(api, "hook-q", receiver.url_for("/hook?type=notification"))
    sandbox.pay("hook-q", "completed")
    [call] = receiver.requests
    assert call.query.startswith("type=notification&transactionid=hook-q&timestamp=")
    assert call.args["type"] == "notification"


def test_order_id_is_url_encoded_in_the_query(sandbox: Sandbox, api: requests.Session, receiver: Receiver) -> None:
    _order(api, "a&b=c d", receiver.url_for("/hook"))
    sandbox.pay("a&b=c d", "completed")
    [call] = receiver.requests
    assert call.args["transactionid"] == "a&b=c d"


def test_get_notification_has_no_body(sandbox: Sandbox, api: requests.Session, receiver: Receiver) -> None:
    _order(api, "hook-get", receiver.url_for("/hook"), method="GET")
    sandbox.pay("hook-get", "completed")
    [call] = receiver.requests
    assert call.method == "GET"
    assert call.body == b""
    assert "Auth" not in call.headers
    assert call.args["transactionid"] == "hook-get" and call.args["timestamp"].isdigit()
    assert sandbox.deliveries[0]["method"] == "GET"


def test_every_status_change_is_notified(sandbox: Sandbox, api: requests.Session, receiver: Receiver) -> None:
    _order(api, "hook-many", receiver.url_for("/hook"), gateway="BANKTRANS")
    sandbox.pay("hook-many", "NL87ABNA0000000001")
    sandbox.advance(120)
    api.post(f"{api.base}/orders/hook-many/refunds", json={"currency": "EUR", "amount": 100})  # type: ignore[attr-defined]
    statuses = [json.loads(call.body)["status"] for call in receiver.requests]
    assert statuses == ["initialized", "completed", "partial_refunded"]


NOT_ACKNOWLEDGED = {
    "500 with OK": (500, "OK", {}),
    "200 without OK": (200, "received", {}),
    "200 empty": (200, "", {}),
    "204": (204, "", {}),
    "302 redirect": (302, "", {"Location": "/ok"}),
    "403": (403, "OK", {}),
    "404": (404, "MULTISAFEPAY_OK", {}),
    "OK after 100 chars": (200, "x" * 99 + "OK", {}),
    "MULTISAFEPAY_OK past 100 chars": (200, "x" * 86 + "MULTISAFEPAY_OK", {}),
}


@pytest.mark.parametrize("name", list(NOT_ACKNOWLEDGED))
def test_unacknowledged_notifications_are_retried_three_times(
    sandbox: Sandbox, api: requests.Session, receiver: Receiver, name: str
) -> None:
    from multisafepay.util import Webhook

    status, text, headers = NOT_ACKNOWLEDGED[name]
    receiver.reply(status, text, headers)
    _order(api, "hook-retry", receiver.url_for("/hook"))
    sandbox.pay("hook-retry", "completed")
    for _ in range(3):  # a seeded sandbox's clock stands still: retries fall due as it is advanced
        sandbox.advance(0.2)

    assert receiver.wait_for(4, timeout=10)
    assert sandbox.wait_for_deliveries()
    assert sandbox.notifier.pending() == 0  # nothing more scheduled: exactly 1 + 3 attempts
    deliveries = sandbox.deliveries
    assert [d["attempt"] for d in deliveries] == [1, 2, 3, 4]
    assert not any(d["acknowledged"] for d in deliveries)
    assert [d["status_code"] for d in deliveries] == [status] * 4
    assert len(receiver.requests) == 4 and {c.path for c in receiver.requests} == {"/hook"}
    # each attempt carries a fresh timestamp, so a fresh Auth, that verifies on its own against today's clock
    stamps = [int(c.args["timestamp"]) for c in receiver.requests]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    assert len({c.headers["Auth"] for c in receiver.requests}) == 4
    for call, stamp in zip(receiver.requests, stamps, strict=True):
        assert verify_notification(call.body, call.headers["Auth"], sandbox.api_key) == stamp
        assert Webhook.validate(call.body.decode(), call.headers["Auth"], sandbox.api_key)
    assert len({c.body for c in receiver.requests}) == 1  # the same snapshot each time


@pytest.mark.parametrize(
    "text",
    ["OK", "MULTISAFEPAY_OK", "x" * 98 + "OK", "x" * 85 + "MULTISAFEPAY_OK", "  OK\n", "<p>OK</p>"],
)
def test_acknowledged_notifications_are_sent_once(
    sandbox: Sandbox, api: requests.Session, receiver: Receiver, text: str
) -> None:
    receiver.reply(200, text)
    _order(api, "hook-ack", receiver.url_for("/hook"))
    sandbox.pay("hook-ack", "completed")
    assert sandbox.wait_for_deliveries()
    assert sandbox.notifier.pending() == 0
    [delivery] = sandbox.deliveries
    assert delivery["acknowledged"] is True and delivery["response_body"] == text
    assert len(receiver.requests) == 1


def test_a_receiver_that_comes_up_late_still_gets_the_notification() -> None:
    port = _free_port()
    with Sandbox(seed=0, sync_notifications=True, retry_interval=0.3) as sandbox:
        session = requests.Session()
        session.headers["api_key"] = sandbox.api_key
        url = f"http://127.0.0.1:{port}/late"
        body = {"order_id": "late", "currency": "EUR", "amount": 1000, "description": "Late receiver"}
        session.post(f"{sandbox.url}/orders", json=body | {"payment_options": {"notification_url": url}})
        sandbox.pay("late", "completed")
        first = sandbox.deliveries[0]
        assert first["status_code"] is None and "ConnectionError" in first["error"]

        with Receiver(port=port) as receiver:
            sandbox.advance(0.3)  # the retry falls due on the (seeded, standing) sandbox clock
            assert receiver.wait_for(1, timeout=5)
            assert sandbox.wait_for_deliveries()
        deliveries = sandbox.deliveries
        assert deliveries[-1]["acknowledged"] is True and deliveries[-1]["attempt"] > 1
        assert all(d["error"] for d in deliveries[:-1])
        assert json.loads(receiver.requests[0].body)["status"] == "completed"


def test_remote_urls_are_never_contacted(
    sandbox: Sandbox, api: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacted: list[str] = []
    send = requests.Session.send

    def recording_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        contacted.append(str(request.url))
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)
    _order(api, "remote", "https://www.example.com/client/notification?type=notification")
    sandbox.pay("remote", "completed")
    assert sandbox.wait_for_deliveries()
    [delivery] = sandbox.deliveries
    assert delivery["status_code"] is None and delivery["acknowledged"] is False
    assert delivery["error"].startswith("not sent")
    assert delivery["url"].startswith("https://www.example.com/client/notification?type=notification&transactionid=")
    assert sandbox.notifier.pending() == 0  # recorded once, never retried
    assert not [url for url in contacted if "example.com" in url]


def test_advance_fast_forwards_pending_retries() -> None:
    with Receiver() as receiver, Sandbox(seed=0, sync_notifications=True, retry_interval=900) as sandbox:
        receiver.reply(500, "down")
        session = requests.Session()
        session.headers["api_key"] = sandbox.api_key
        payment_options = {"notification_url": receiver.url_for("/hook")}
        body = {"order_id": "ff", "currency": "EUR", "amount": 1000, "description": "Fast forward"}
        session.post(f"{sandbox.url}/orders", json=body | {"payment_options": payment_options})
        sandbox.pay("ff", "completed")

        def attempts() -> int:
            assert sandbox.wait_for_deliveries()
            return len(sandbox.deliveries)

        assert attempts() == 1
        sandbox.advance(899)
        assert attempts() == 1
        sandbox.advance(1)
        assert attempts() == 2
        sandbox.advance(900)
        sandbox.advance(900)
        assert attempts() == 4
        sandbox.advance(86400)
        assert attempts() == 4
        # On the sandbox's clock the attempts are 15 minutes apart; on the wire each is signed with the real
        # time of sending, strictly increasing, so every one verifies against a receiver's own clock.
        times = [datetime.fromisoformat(d["time"]) for d in sandbox.deliveries]
        assert [(times[i + 1] - times[i]).total_seconds() >= 900 for i in range(3)] == [True] * 3
        stamps = [d["timestamp"] for d in sandbox.deliveries]
        assert stamps == sorted(set(stamps)) and abs(stamps[-1] - time.time()) < 60
        assert [d["attempt"] for d in sandbox.deliveries] == [1, 2, 3, 4]
