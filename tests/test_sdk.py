"""The official MultiSafepay Python SDK (3.1.0) works against the sandbox, pointed at it as the SDK allows.

Everything goes through the SDK's own managers and builders; the sandbox only stands in for
testapi.multisafepay.com. Notifications are captured by a real receiver and checked with the SDK's
``Webhook.validate``.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from _receiver import Receiver
from multisafepay import Sdk
from multisafepay.api.paths.orders.order_id.refund.request import RefundOrderRequest
from multisafepay.api.paths.orders.request import OrderRequest
from multisafepay.api.paths.orders.request.components import PaymentOptions
from multisafepay.api.paths.orders.request.components.gateway_info.creditcard import Creditcard
from multisafepay.api.paths.orders.response.order_response import Order
from multisafepay.api.shared.customer import Customer
from multisafepay.util import Webhook

from msp_explore.sandbox import Sandbox
from msp_explore.webhooks import verify_notification


def _sdk(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sdk:
    # msp-api-facts §9: the 3.1.0 guard rails for a custom base URL; the SDK appends "json/<path>" itself.
    monkeypatch.setenv("MSP_SDK_BUILD_PROFILE", "dev")
    monkeypatch.setenv("MSP_SDK_ALLOW_CUSTOM_BASE_URL", "1")
    root = sandbox.url.removesuffix("/json")
    return Sdk(api_key=sandbox.api_key, is_production=False, base_url=root)


@pytest.fixture
def sdk(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sdk:
    return _sdk(sandbox, monkeypatch)


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    receiver_server.clear()
    receiver_server.reply(200, "OK")
    return receiver_server


def _clean(response: Any) -> Any:
    """The response's model: present, and built without the SDK's "could not create" warnings."""
    assert not getattr(response, "warnings", None), response.warnings
    assert response.get_status_code() == 200
    assert response.get_body_success() is True
    data = response.get_data()
    assert data is not None
    return data


def _redirect_order(order_id: str, amount: int = 1000, notification_url: str | None = None) -> OrderRequest:
    options = (
        PaymentOptions().add_redirect_url("https://shop.example/return").add_cancel_url("https://shop.example/cancel")
    )
    if notification_url:
        options = options.add_notification_url(notification_url).add_notification_method("POST")
    return (
        OrderRequest()
        .add_type("redirect")
        .add_order_id(order_id)
        .add_description("SDK order")
        .add_amount(amount)
        .add_currency("EUR")
        .add_payment_options(options)
    )


def test_create_redirect_order(sdk: Sdk, sandbox: Sandbox) -> None:
    customer = Customer().add_first_name("Ada").add_last_name("Lovelace").add_locale("nl_NL")
    request = _redirect_order("sdk-redirect").add_customer(customer)
    created = _clean(sdk.get_order_manager().create(request))
    assert isinstance(created, Order)
    assert created.order_id == "sdk-redirect"
    assert created.session_id and created.payment_url
    root = sandbox.url.removesuffix("/v1/json")
    assert created.payment_url == f"{root}/connect/{created.session_id}/?lang=nl_NL"
    assert requests.get(created.payment_url, timeout=5).status_code == 200


def test_create_direct_orders(sdk: Sdk, sandbox: Sandbox) -> None:
    manager = sdk.get_order_manager()
    ideal = (
        OrderRequest()
        .add_type("direct")
        .add_gateway("IDEAL")
        .add_order_id("sdk-direct-ideal")
        .add_description("Direct iDEAL")
        .add_amount(1250)
        .add_currency("EUR")
    )
    order = _clean(manager.create(ideal))
    assert isinstance(order, Order)
    assert (order.order_id, order.status, order.financial_status) == ("sdk-direct-ideal", "initialized", "initialized")
    assert order.payment_url and order.amount == 1250 and order.transaction_id

    card = Creditcard().add_card_number("4111111111111111").add_card_holder_name("Ada Lovelace")
    visa = (
        OrderRequest()
        .add_type("direct")
        .add_gateway("VISA")
        .add_order_id("sdk-direct-visa")
        .add_description("Direct Visa")
        .add_amount(500)
        .add_currency("EUR")
        .add_gateway_info(card.add_card_expiry_date("3012").add_cvc("123"))
    )
    order = _clean(manager.create(visa))
    assert order.payment_details.type == "VISA"
    assert order.payment_details.last4 == "1111"
    # a direct card order waits for 3-D Secure at its payment_url; the card it was created with decides
    assert (order.status, order.financial_status) == ("initialized", "initialized") and order.payment_url
    assert sandbox.pay("sdk-direct-visa")["status"] == "completed"


def test_get_order_is_a_model_without_warnings(sdk: Sdk, sandbox: Sandbox) -> None:
    manager = sdk.get_order_manager()
    _clean(manager.create(_redirect_order("sdk-get")))
    order = _clean(manager.get("sdk-get"))
    assert isinstance(order, Order)
    assert (order.status, order.amount, order.currency) == ("initialized", 1000, "EUR")

    sandbox.pay("sdk-get", "completed")
    order = _clean(manager.get("sdk-get"))
    assert (order.status, order.financial_status) == ("completed", "completed")
    assert order.costs and order.payment_methods and order.payment_details.type == "IDEAL"
    assert str(order.transaction_id) == str(sandbox.get_order("sdk-get")["transaction_id"])


def test_refund_partial_then_full(sdk: Sdk, sandbox: Sandbox) -> None:
    manager = sdk.get_order_manager()
    _clean(manager.create(_redirect_order("sdk-refund")))
    sandbox.pay("sdk-refund", "completed")

    partial = _clean(
        manager.refund("sdk-refund", RefundOrderRequest().add_currency("EUR").add_amount(300).add_description("part"))
    )
    assert partial.refund_id and partial.transaction_id
    order = _clean(manager.get("sdk-refund"))
    assert (order.status, order.amount_refunded) == ("partial_refunded", 300)

    rest = _clean(manager.refund("sdk-refund", RefundOrderRequest().add_currency("EUR").add_description("rest")))
    assert rest.refund_id != partial.refund_id
    order = _clean(manager.get("sdk-refund"))
    assert (order.status, order.financial_status, order.amount_refunded) == ("refunded", "completed", 1000)
    assert [t.type for t in order.related_transactions] == ["refund", "refund"]


def test_full_refund(sdk: Sdk, sandbox: Sandbox) -> None:
    manager = sdk.get_order_manager()
    _clean(manager.create(_redirect_order("sdk-full")))
    sandbox.pay("sdk-full", "completed")
    _clean(manager.refund("sdk-full", RefundOrderRequest().add_currency("EUR").add_amount(1000)))
    order = _clean(manager.get("sdk-full"))
    assert (order.status, order.amount_refunded) == ("refunded", 1000)


def test_list_transactions_follows_the_cursor(sdk: Sdk) -> None:
    manager = sdk.get_order_manager()
    for n in range(5):
        _clean(manager.create(_redirect_order(f"sdk-list-{n}", amount=1000 + n)))
    transactions = sdk.get_transaction_manager()

    seen: list[str] = []
    options: dict[str, Any] = {"limit": 2}
    for _ in range(10):
        page = _clean(transactions.get_transactions(options))
        items = page.get_data()
        if not items:
            break
        assert len(items) <= 2
        seen += [t.order_id for t in items]
        cursor = page.get_pager().cursor
        assert cursor.after
        options = {"limit": 2, "after": cursor.after}
    assert seen == [f"sdk-list-{n}" for n in reversed(range(5))]  # newest first, each once
    assert page.get_pager().cursor is None or page.get_pager().cursor.after is None


def test_gateways(sdk: Sdk) -> None:
    manager = sdk.get_gateway_manager()
    gateways = _clean(manager.get_gateways(include_coupons=False))
    ids = {g.id for g in gateways}
    assert {"IDEAL", "VISA", "MISTERCASH", "PAYPAL"} <= ids
    assert "CREDITCARD" not in ids  # the generic card gateway is never listed
    with_coupons = _clean(manager.get_gateways())
    assert any(g.type == "coupon" for g in with_coupons)

    bancontact = _clean(manager.get_by_code("mistercash"))
    assert (bancontact.id, bancontact.description) == ("MISTERCASH", "Bancontact")


def test_payment_methods(sdk: Sdk) -> None:
    manager = sdk.get_payment_method_manager()
    methods = _clean(manager.get_payment_methods())
    assert {m.id for m in methods} >= {"IDEAL", "VISA", "KLARNA"}
    ideal = _clean(manager.get_by_gateway_code("IDEAL"))
    assert ideal.id == "IDEAL" and ideal.name == "iDEAL"


def test_error_surfaces_as_http_error_with_the_envelope(sdk: Sdk) -> None:
    manager = sdk.get_order_manager()
    with pytest.raises(requests.HTTPError) as info:
        manager.get("no-such-order")
    assert info.value.response.status_code == 404
    assert info.value.response.json() == {
        "success": False,
        "data": {},
        "error_code": 1006,
        "error_info": "Invalid transaction ID",
    }

    _clean(manager.create(_redirect_order("sdk-dup")))
    with pytest.raises(requests.HTTPError) as info:
        manager.create(_redirect_order("sdk-dup"))
    body = info.value.response.json()
    assert 400 <= info.value.response.status_code < 500
    assert (body["success"], body["error_code"]) == (False, 1006)


def test_webhook_validate_accepts_real_notifications(sdk: Sdk, sandbox: Sandbox, receiver: Receiver) -> None:
    manager = sdk.get_order_manager()
    _clean(manager.create(_redirect_order("sdk-hook", notification_url=receiver.url_for("/hook"))))
    sandbox.pay("sdk-hook", "completed")
    _clean(manager.refund("sdk-hook", RefundOrderRequest().add_currency("EUR").add_amount(250)))

    assert [json.loads(c.body)["status"] for c in receiver.requests] == ["completed", "partial_refunded"]
    for call in receiver.requests:
        # the SDK's default 600 s window, on this machine's clock: a seeded sandbox signs with the real time too
        assert Webhook.validate(call.text, call.headers["Auth"], sandbox.api_key)
        assert not Webhook.validate(call.text, call.headers["Auth"], "another-key")


class PlainReceiver(http.server.BaseHTTPRequestHandler):
    """A merchant's handler at its plainest: the standard library's HTTP server, refusing the first ``refuse``."""

    received: list[tuple[str, dict[str, str], bytes]]
    refuse = 0

    def do_POST(self) -> None:  # noqa: N802 -- http.server's spelling
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, dict(self.headers), body))
        answer = b"busy" if len(self.received) <= self.refuse else b"OK"
        self.send_response(503 if answer == b"busy" else 200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("seed", [0, None], ids=["seeded", "unseeded"])
def test_every_notification_verifies_on_the_receivers_own_clock(seed: int | None) -> None:
    """First attempts, retries and notifications sent after advance(3600): all pass the SDK's default window."""
    handler = type("Handler", (PlainReceiver,), {"received": [], "refuse": 2})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/shop/webhook?type=notification"
    try:
        with Sandbox(seed=seed, sync_notifications=True, retry_interval=60) as sandbox, requests.Session() as api:
            api.headers["api_key"] = sandbox.api_key
            body = {"order_id": "clock-1", "currency": "EUR", "amount": 1000, "description": "Clock"}
            api.post(f"{sandbox.url}/orders", json=body | {"payment_options": {"notification_url": url}})
            sandbox.pay("clock-1", "completed")  # attempt 1: refused
            sandbox.advance(60)  # attempt 2: refused
            sandbox.advance(3600)  # attempt 3: acknowledged, an hour later on the sandbox clock
            api.post(f"{sandbox.url}/orders/clock-1/refunds", json={"currency": "EUR", "amount": 100})
            assert sandbox.wait_for_deliveries()
            deliveries = sandbox.deliveries
    finally:
        server.shutdown()
        server.server_close()
    assert [d["attempt"] for d in deliveries] == [1, 2, 3, 1]
    assert [d["acknowledged"] for d in deliveries] == [False, False, True, True]
    assert len(handler.received) == 4
    for path, headers, raw in handler.received:
        assert path.startswith("/shop/webhook?type=notification&transactionid=clock-1&timestamp=")
        stamp = int(path.rsplit("=", 1)[1])
        assert Webhook.validate(raw.decode(), headers["Auth"], sandbox.api_key)
        assert verify_notification(raw, headers["Auth"], sandbox.api_key) == stamp
        assert not Webhook.validate(raw.decode(), headers["Auth"], "another-key")


def test_webhook_validate_with_non_ascii_and_a_live_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unseeded sandbox follows the wall clock, so the SDK's default 600 s window applies."""
    with Receiver() as receiver, Sandbox(sync_notifications=True) as sandbox:
        manager = _sdk(sandbox, monkeypatch).get_order_manager()
        request = _redirect_order("sdk-unicode", notification_url=receiver.url_for("/hook"))
        _clean(manager.create(request.add_description("Café ☕ déjà")))
        sandbox.pay("sdk-unicode", "completed")
        [call] = receiver.requests
    assert "Café ☕ déjà".encode() in call.body
    assert Webhook.validate(call.text, call.headers["Auth"], sandbox.api_key)
    assert not Webhook.validate(call.text.replace("déjà", "deja"), call.headers["Auth"], sandbox.api_key)
