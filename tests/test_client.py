"""Client against the real sandbox, and against a faulty server standing between them."""

from __future__ import annotations

import json
import logging
import pickle
import re
import socket
import sqlite3
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import requests.adapters
from _faulty_server import FaultyServer
from conftest import TUTORIAL_ORDER

from msp_explore.client import Client, _never_sent, connect
from msp_explore.config import LIVE_API, TEST_API
from msp_explore.controls import SandboxControls
from msp_explore.display import OrderResult, format_amount, order_card
from msp_explore.errors import ApiError, AuthenticationError, NotFoundError, ValidationError
from msp_explore.journal import Journal
from msp_explore.sandbox import Sandbox

SECRET = "KEY-SECRET-123456789"
ORDER = {"order_id": "order-1", "currency": "EUR", "amount": 1000, "description": "Test order"}


_made: list[Client] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    """Close the clients the helpers below made, so no pooled connection outlives its test."""
    yield
    while _made:
        _made.pop().close()


def made(client: Client) -> Client:
    _made.append(client)
    return client


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(sandbox.api_key, base_url=sandbox.url) as c:
        yield c


@pytest.fixture
def faulty(sandbox: Sandbox) -> Iterator[FaultyServer]:
    with FaultyServer(sandbox.server.url_for(""), stall_seconds=3) as server:
        yield server


def flaky_client(sandbox: Sandbox, faulty: FaultyServer, **kwargs: Any) -> Client:
    """A client going through the faulty server, with retries fast enough for tests."""
    options: dict[str, Any] = {"timeout": 2.0, "backoff": 0.001, "retry_deadline": 10.0, "max_attempts": 4}
    return made(Client(sandbox.api_key, base_url=faulty.url + "/v1/json", **(options | kwargs)))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def offline_client(**kwargs: Any) -> Client:
    """A client whose every request would fail: validation errors prove nothing was sent."""
    return made(Client("some-key", base_url=f"http://127.0.0.1:{closed_port()}/v1/json", max_attempts=1, **kwargs))


def paid_order(client: Client, sandbox: Sandbox, order_id: str = "order-1", **fields: Any) -> None:
    client.create_order(ORDER, order_id=order_id, **fields)
    sandbox.pay(order_id, "completed")


# -- orders ---------------------------------------------------------------------------------------------
def test_create_order_returns_the_payment_page(client: Client) -> None:
    created = client.create_order(TUTORIAL_ORDER)
    assert set(created) == {"order_id", "payment_url", "session_id"}
    assert created["order_id"] == "my-order-id-1"
    assert created["payment_url"].startswith(client.base_url.removesuffix("/v1/json") + "/connect/")
    assert isinstance(created, OrderResult) and created == dict(created)


def test_create_order_merges_the_dict_and_keywords_without_changing_the_dict(client: Client) -> None:
    order = dict(ORDER)
    client.create_order(order, amount=2500, description="Keywords win")
    assert order == ORDER
    got = client.get_order("order-1")
    assert (got["amount"], got["description"], got["status"]) == (2500, "Keywords win", "initialized")


def test_direct_order_comes_back_whole(client: Client) -> None:
    created = client.create_order(ORDER, type="direct", gateway="IDEAL")
    assert created["status"] == "initialized" and created["payment_url"]
    assert created["transaction_id"] == client.get_order("order-1")["transaction_id"]


def test_get_order_follows_a_payment(client: Client, sandbox: Sandbox) -> None:
    paid_order(client, sandbox)
    got = client.get_order("order-1")
    assert isinstance(got, OrderResult)
    assert (got["status"], got["financial_status"]) == ("completed", "completed")


def test_order_ids_are_percent_encoded_in_paths(client: Client, tmp_path: Path) -> None:
    odd = "a/b c?d#e%f"
    with Journal(tmp_path / "j.sqlite") as journal:
        client.journal = journal
        client.create_order(ORDER, order_id=odd)
        assert client.get_order(odd)["order_id"] == odd
        assert journal.requests_frame()["path"].tolist()[-1] == "/orders/" + quote(odd, safe="")
        client.journal = None


def test_get_orders_keeps_the_input_order(client: Client, sandbox: Sandbox) -> None:
    ids = [f"order-{i:02d}" for i in range(12)]
    for order_id in ids:
        client.create_order(ORDER, order_id=order_id, amount=100 + int(order_id[-2:]))
    sandbox.pay("order-03", "completed")
    wanted = ids[::-1] + ids[:2]
    got = client.get_orders(wanted, max_workers=4, progress=False)
    assert [order["order_id"] for order in got] == wanted
    assert [order["amount"] for order in got] == [100 + int(i[-2:]) for i in wanted]
    assert all(isinstance(order, OrderResult) for order in got)
    assert got[wanted.index("order-03")]["status"] == "completed"
    assert client.get_orders([], progress=False) == []


def test_get_orders_raises_the_first_failure_in_input_order(client: Client) -> None:
    for order_id in ("a", "b"):
        client.create_order(ORDER, order_id=order_id)
    with pytest.raises(NotFoundError) as info:
        client.get_orders(["a", "missing-1", "b", "missing-2"], max_workers=2, progress=False)
    assert str(info.value) == "1006 Invalid transaction ID (HTTP 404)"
    notes = getattr(info.value, "__notes__", None)
    if notes is not None:  # Python 3.11+
        assert "order_ids[1] = 'missing-1'" in notes[0]


def test_get_orders_leaves_the_progress_bar_to_tqdm(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    import tqdm.auto

    seen: list[dict[str, Any]] = []

    class FakeBar:
        def __init__(self, **kwargs: Any) -> None:
            seen.append(kwargs)

        def __enter__(self) -> FakeBar:
            return self

        def __exit__(self, *exc_info: object) -> None:
            pass

        def update(self, n: int = 1) -> None:
            updates.append(n)

    updates: list[int] = []
    monkeypatch.setattr(tqdm.auto, "tqdm", FakeBar)
    client.create_order(ORDER)
    client.get_orders(["order-1"] * 30, max_workers=3)
    assert sum(updates) == 30  # in steps, not necessarily one per order
    client.get_orders(["order-1"], progress=False)
    # An explicit disable=False would override TQDM_DISABLE=1, so progress=True must not pass one.
    assert "disable" not in seen[0] and seen[0]["total"] == 30
    assert seen[1]["disable"] is True


def test_a_session_passed_in_is_used_and_left_open(sandbox: Sandbox) -> None:
    with requests.Session() as session:
        c = Client(sandbox.api_key, base_url=sandbox.url, session=session)
        c.create_order(ORDER)
        c.close()
        assert c.session is session and "api_key" not in session.headers  # the key goes per request
        assert c.get_order("order-1")["order_id"] == "order-1"


def test_get_orders_grows_the_connection_pool(client: Client) -> None:
    client.create_order(ORDER)
    client.get_orders(["order-1"] * 20, max_workers=16, progress=False)
    adapter = client.session.get_adapter(client.base_url)
    assert adapter.poolmanager.connection_pool_kw["maxsize"] >= 16


def test_get_orders_overlaps_its_requests(client: Client, sandbox: Sandbox) -> None:
    client.create_order(ORDER)
    peak, inside, lock = [0], [0], threading.Lock()

    def hook(response: requests.Response, **kwargs: Any) -> None:
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.05)  # stand for the network: the other workers must be sending meanwhile
        with lock:
            inside[0] -= 1

    client.session.hooks["response"].append(hook)
    got = client.get_orders(["order-1"] * 16, max_workers=4, progress=False)
    assert len(got) == 16 and peak[0] == 4


def test_get_orders_starts_no_order_after_a_failure(client: Client, sandbox: Sandbox) -> None:
    client.create_order(ORDER)
    with pytest.raises(NotFoundError):
        client.get_orders(["missing", "order-1", "order-1"], max_workers=1, progress=False)
    asked = [r["path"] for r in client.sandbox.list_requests() if r["method"] == "GET"]  # type: ignore[union-attr]
    assert asked == ["/v1/json/orders/missing"]


def test_a_session_hook_sees_every_order(sandbox: Sandbox) -> None:
    with requests.Session() as session:
        statuses: list[int] = []
        session.hooks["response"].append(lambda r, **kw: statuses.append(r.status_code))
        c = made(Client(sandbox.api_key, base_url=sandbox.url, session=session))
        c.create_order(ORDER)
        c.get_orders(["order-1"] * 5, max_workers=2, progress=False)
        assert statuses == [200] * 6


def test_update_ship_and_cancel(client: Client, sandbox: Sandbox) -> None:
    paid_order(client, sandbox, "paid")
    assert client.ship_order("paid", tracktrace_code="3SABC123", carrier="PostNL") == {}
    assert client.get_order("paid")["status"] == "shipped"
    client.create_order(ORDER, order_id="unpaid")
    assert client.cancel_order("unpaid") == {}
    assert client.get_order("unpaid")["status"] == "cancelled"
    client.create_order(ORDER, order_id="later")
    client.update_order("later", status="cancelled", exclude_order=True)
    assert client.get_order("later")["financial_status"] == "cancelled"


def test_refund_takes_the_orders_currency(client: Client, sandbox: Sandbox) -> None:
    paid_order(client, sandbox, currency="GBP")
    refund = client.refund_order("order-1", 300, description="Broken mug")
    assert set(refund) >= {"refund_id", "transaction_id"}
    assert (client.get_order("order-1")["status"], client.get_order("order-1")["amount_refunded"]) == (
        "partial_refunded",
        300,
    )
    client.refund_order("order-1", currency="GBP")  # the rest
    assert client.get_order("order-1")["status"] == "refunded"


def test_capture_and_cancel_an_authorisation(client: Client, sandbox: Sandbox) -> None:
    card = {"card_number": "4111111111111111", "card_expiry_date": "2912", "card_cvc": "123"}
    manual = dict(ORDER, type="direct", gateway="VISA", capture="manual", gateway_info=card)
    client.create_order(manual, order_id="cap")
    sandbox.pay("cap")  # the payer passes 3-D Secure
    authorised = client.get_order("cap")
    assert (authorised["status"], authorised["financial_status"]) == ("completed", "initialized")
    captured = client.capture_order("cap", 1000, reason="Shipped")
    assert set(captured) == {"order_id", "transaction_id"}
    assert client.get_order("cap")["financial_status"] == "completed"

    client.create_order(manual, order_id="void-me")
    sandbox.pay("void-me")
    assert client.cancel_authorization("void-me", "Out of stock")["success"] is True
    assert client.get_order("void-me")["status"] == "void"


def test_list_transactions_follows_the_cursor_lazily(client: Client, tmp_path: Path) -> None:
    for i in range(5):
        client.create_order(ORDER, order_id=f"order-{i}")
    with Journal(tmp_path / "j.sqlite") as journal:
        client.journal = journal
        pages = client.list_transactions(limit=2)
        assert iter(pages) is pages
        assert journal.requests_frame().empty  # nothing is fetched before the first item is asked for
        items = list(pages)
        calls = journal.requests_frame()["path"].tolist()
        client.journal = None
    assert [t["order_id"] for t in items] == [f"order-{i}" for i in reversed(range(5))]
    assert len(calls) == 4 and all(path.startswith("/transactions?") for path in calls)  # 2 + 2 + 1 + empty
    assert "after=" not in calls[0] and all("after=" in path for path in calls[1:])
    only = list(client.list_transactions(status="initialized", currency="USD"))
    assert only == []


def test_transactions_and_gateways(client: Client) -> None:
    client.create_order(ORDER)
    (first,) = client.list_transactions()
    assert client.get_transaction(first["transaction_id"])["order_id"] == "order-1"
    assert client.get_transaction(str(first["transaction_id"])) == first
    gateways = client.list_gateways()
    assert {"IDEAL", "VISA"} <= {g["id"] for g in gateways}
    assert "CREDITCARD" not in {g["id"] for g in gateways}
    assert client.get_gateway("ideal") == {"id": "IDEAL", "description": "iDEAL"}
    methods = client.list_payment_methods()
    assert {"id", "name", "allowed_amount"} <= set(methods[0])


# -- errors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.get_order("missing"), NotFoundError, "1006 Invalid transaction ID (HTTP 404)"),
        (lambda c: c.get_gateway("NOPE"), NotFoundError, "1023 No gateway (payment method) available (HTTP 404)"),
        (lambda c: c.get_transaction(404), NotFoundError, "Not found (HTTP 404)"),
        (lambda c: c.update_order("missing", status="shipped"), NotFoundError, "1000 Not found (HTTP 410)"),
        (
            lambda c: c.create_order(ORDER, gateway="NOPE"),
            ApiError,
            "1023 gateway: 'NOPE' is not an available payment method (HTTP 400)",
        ),
        (lambda c: c.refund_order("order-1", 100), ApiError, "1034 Cannot refund: order is initialized/initialized"),
    ],
    ids=["order", "gateway", "transaction", "patch", "create", "refund"],
)
def test_api_errors(client: Client, call: Any, error: type[ApiError], message: str) -> None:
    client.create_order(ORDER)
    with pytest.raises(error) as info:
        call(client)
    assert str(info.value).startswith(message)
    assert isinstance(info.value.response, requests.Response)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.get_order("order-1"), "1032 Invalid API key (HTTP 401)"),
        (lambda c: list(c.list_transactions()), "Forbidden (HTTP 403)"),
    ],
)
def test_a_wrong_key_is_an_authentication_error(sandbox: Sandbox, call: Any, message: str) -> None:
    with Client("not-the-key", base_url=sandbox.url) as wrong:
        with pytest.raises(AuthenticationError, match=re.escape(message)):
            call(wrong)


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"order_id": None}, "order_id", "is required"),
        ({"order_id": "  "}, "order_id", "is required"),
        ({"order_id": 12}, "order_id", "must be a string"),
        ({"order_id": ".."}, "order_id", "cannot be"),
        ({"amount": 10.5}, "amount", "must be an integer amount in cents"),
        ({"amount": True}, "amount", "must be an integer amount in cents"),
        ({"amount": "1000"}, "amount", "must be an integer amount in cents"),
        ({"amount": None}, "amount", "must be an integer amount in cents"),
        ({"currency": 978}, "currency", "must be a string"),
        ({"description": None}, "description", "is required"),
        ({"type": 1}, "type", "must be a string"),
        ({"customer": "John"}, "customer", "must be a dict"),
    ],
)
def test_create_order_checks_types_before_sending(fields: dict[str, Any], field: str, rule: str) -> None:
    with offline_client() as offline, pytest.raises(ValidationError) as info:
        offline.create_order(ORDER, **fields)
    assert info.value.field == field and rule in info.value.rule
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"order_id": "x" * 51}, "order_id"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "E1R"}, "currency"),
        ({"description": "x" * 201}, "description"),
        ({"type": "bogus"}, "type"),
        ({"type": "direct"}, "gateway"),
    ],
)
def test_the_apis_own_rules_come_back_naming_the_field(client: Client, fields: dict[str, Any], field: str) -> None:
    # One place for MultiSafepay's business rules: the API (here the sandbox), not the client too.
    with pytest.raises(ApiError) as info:
        client.create_order(ORDER, **fields)
    assert info.value.status_code == 400 and info.value.error_info.startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.get_order(""), "order_id"),
        (lambda c: c.get_order(".."), "order_id"),
        (lambda c: c.get_orders("order-1"), "order_ids"),
        (lambda c: c.get_orders(["order-1", 5]), "order_ids[1]"),
        (lambda c: c.get_orders(["order-1"], max_workers=0), "max_workers"),
        (lambda c: c.update_order("order-1"), "fields"),
        (lambda c: c.ship_order("order-1", amount=1.5), "amount"),
        (lambda c: c.refund_order("order-1", 2.5), "amount"),
        (lambda c: c.cancel_authorization("order-1", ""), "reason"),
        (lambda c: c.list_transactions(limit=0), "limit"),
        (lambda c: c.list_transactions(limit=1001), "limit"),
        (lambda c: c.get_transaction(True), "transaction_id"),
        (lambda c: c.get_gateway(""), "gateway_id"),
        (lambda c: c.create_order(["not", "a", "dict"]), "order"),
    ],
)
def test_other_methods_check_before_sending(call: Any, field: str) -> None:
    with offline_client() as offline, pytest.raises(ValidationError) as info:
        call(offline)
    assert info.value.field == field


# -- construction, repr, connect() -----------------------------------------------------------------------------
def test_the_key_comes_from_the_argument_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as info:
        Client()
    assert info.value.field == "api_key" and "MSP_API_KEY" in info.value.rule
    monkeypatch.setenv("MSP_API_KEY", "from-the-environment")
    assert Client()._settings.api_key == "from-the-environment"
    assert Client("from-the-argument")._settings.api_key == "from-the-argument"


@pytest.mark.parametrize(
    "base_url", [LIVE_API, "https://API.MultiSafepay.com/v1/json/", "https://api.multisafepay.com."]
)
def test_the_live_api_is_refused_unless_allowed(base_url: str) -> None:
    with pytest.raises(ValidationError) as info:
        Client("key", base_url=base_url)
    assert info.value.field == "base_url" and "allow_live=True" in info.value.rule
    assert repr(Client("key", base_url=base_url, allow_live=True)).startswith("<Client live https://")


@pytest.mark.parametrize(
    ("base_url", "shown"),
    [
        (TEST_API, f"<Client test {TEST_API}>"),
        ("http://localhost:5000/v1/json/", "<Client sandbox http://localhost:5000/v1/json>"),
        ("https://proxy.example/v1/json", "<Client custom https://proxy.example/v1/json>"),
    ],
)
def test_repr_names_the_environment(base_url: str, shown: str) -> None:
    assert repr(Client(SECRET, base_url=base_url)) == shown


def test_bad_settings_are_refused() -> None:
    for kwargs, field in [
        ({"base_url": "testapi.multisafepay.com"}, "base_url"),
        ({"timeout": 0}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"retry_deadline": -1}, "retry_deadline"),
        ({"backoff": -1}, "backoff"),
    ]:
        with pytest.raises(ValidationError) as info:
            Client("key", **kwargs)
        assert info.value.field == field
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Client("key"))


def test_connect_without_a_key_uses_one_embedded_sandbox() -> None:
    first, second = made(connect()), made(connect(timeout=5))
    assert repr(first).startswith("<Client sandbox http://127.0.0.1:")
    assert isinstance(first.sandbox, SandboxControls) and second.sandbox is not None
    assert first.base_url == first.sandbox.url == second.sandbox.url and second.timeout == 5
    assert {"IDEAL"} <= {g["id"] for g in first.list_gateways()}
    with pytest.raises(ValidationError) as info:
        connect(seed=12345)  # this process's sandbox runs with seed 0
    assert info.value.field == "seed"


def test_connect_with_a_key_targets_the_test_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSP_API_KEY", "dummy-key-for-the-test-api")
    chosen = connect()
    assert (chosen.base_url, chosen.sandbox, repr(chosen)) == (TEST_API, None, f"<Client test {TEST_API}>")
    monkeypatch.setenv("MSP_BASE_URL", "https://proxy.example/v1/json")
    assert connect().base_url == "https://proxy.example/v1/json"
    monkeypatch.setenv("MSP_BASE_URL", LIVE_API)
    with pytest.raises(ValidationError):
        connect()
    assert connect(allow_live=True).environment == "live"


# -- journal and logging ------------------------------------------------------------------------------------
def test_every_request_and_order_goes_to_the_journal(sandbox: Sandbox, tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal, Client(sandbox.api_key, base_url=sandbox.url, journal=journal) as c:
        c.create_order(ORDER, type="direct", gateway="IDEAL")
        c.get_order("order-1")
        with pytest.raises(NotFoundError):
            c.get_order("missing")
        requests_ = journal.requests_frame()
        assert requests_[["method", "path", "status_code"]].values.tolist() == [
            ["POST", "/orders", 200],
            ["GET", "/orders/order-1", 200],
            ["GET", "/orders/missing", 404],
        ]
        assert requests_["error_code"].tolist()[-1] == 1006
        assert json.loads(requests_["body"][0])["order_id"] == "order-1"
        assert [o["order_id"] for o in journal.history("order-1")] == ["order-1", "order-1"]


def test_requests_are_logged_at_debug(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="msp_explore.client")
    client.list_gateways(country="NL")
    (record,) = [r for r in caplog.records if r.name == "msp_explore.client"]
    assert record.levelno == logging.DEBUG
    assert record.getMessage().startswith("GET /gateways?country=NL -> 200 in ")


# -- faults: the sandbox's own (see sandbox/faults.py), a plain test rig for an integration's bad days ----------
def faulted_client(sandbox: Sandbox, **kwargs: Any) -> Client:
    """A client of the sandbox, with retries fast enough for tests."""
    options: dict[str, Any] = {"timeout": 2.0, "backoff": 0.001, "retry_deadline": 10.0, "max_attempts": 4}
    return made(Client(sandbox.api_key, base_url=sandbox.url, **(options | kwargs)))


def asked(sandbox: Sandbox, method: str, path: str) -> list[dict[str, Any]]:
    """The requests the sandbox saw for ``METHOD /v1/json{path}``, faulted ones included."""
    return [r for r in sandbox.controls.list_requests() if (r["method"], r["path"]) == (method, "/v1/json" + path)]


GET_FAULTS = ["reset", "status=500", "status=502", "status=503", "status=504", "status=429", "after_effect"]


@pytest.mark.parametrize("fault", GET_FAULTS)
def test_gets_are_retried(sandbox: Sandbox, fault: str) -> None:
    sandbox.faults.add(f"GET /gateways {fault} x2")
    got = faulted_client(sandbox).list_gateways()
    assert {"IDEAL"} <= {g["id"] for g in got}
    assert [r["fault"] is not None for r in asked(sandbox, "GET", "/gateways")] == [True, True, False]


def test_a_stalled_get_is_retried_after_the_timeout(sandbox: Sandbox) -> None:
    sandbox.faults.add("GET /gateways/IDEAL stall x1")
    assert faulted_client(sandbox, timeout=0.3).get_gateway("IDEAL")["id"] == "IDEAL"
    assert len(asked(sandbox, "GET", "/gateways/IDEAL")) == 2


def test_retry_after_is_honoured(sandbox: Sandbox) -> None:
    sandbox.faults.add("GET /gateways status=503 retry_after=1 x1")
    sandbox.faults.add("GET /gateways status=429 retry_after=1 x1")
    began = time.monotonic()
    faulted_client(sandbox).list_gateways()
    assert time.monotonic() - began >= 2.0  # both waits the API asked for
    assert len(asked(sandbox, "GET", "/gateways")) == 3


def test_a_retry_after_past_the_deadline_is_not_waited_for(sandbox: Sandbox) -> None:
    sandbox.faults.add("GET /gateways status=503 retry_after=120 x1")
    began = time.monotonic()
    with pytest.raises(ApiError) as info:
        faulted_client(sandbox, retry_deadline=30).list_gateways()
    assert info.value.status_code == 503 and len(asked(sandbox, "GET", "/gateways")) == 1
    assert time.monotonic() - began < 10  # the last answer at once, not after two minutes


def test_retries_stop_after_max_attempts(sandbox: Sandbox) -> None:
    sandbox.faults.add("GET /orders/* status=502")
    with pytest.raises(ApiError) as info:
        faulted_client(sandbox, max_attempts=3).get_order("order-1")
    assert info.value.status_code == 502 and len(asked(sandbox, "GET", "/orders/order-1")) == 3


def test_retries_stop_at_the_deadline(sandbox: Sandbox) -> None:
    sandbox.faults.add("GET /gateways stall")
    c = faulted_client(sandbox, timeout=0.2, retry_deadline=0.5, max_attempts=50)
    with pytest.raises(requests.ConnectionError, match="Read timed out"):
        c.list_gateways()
    # No retry starts that would end past the deadline, so it ends long before 50 attempts.
    assert 2 <= len(asked(sandbox, "GET", "/gateways")) <= 5


@pytest.mark.parametrize("fault", ["reset", "status=500", "status=503", "status=429", "after_effect"])
def test_get_orders_retries_like_get_order(sandbox: Sandbox, fault: str) -> None:
    c = faulted_client(sandbox)
    c.create_order(ORDER)
    sandbox.faults.add(f"GET /orders/order-1 {fault} x2")
    assert [o["order_id"] for o in c.get_orders(["order-1"], progress=False)] == ["order-1"]
    assert len(asked(sandbox, "GET", "/orders/order-1")) == 3


@pytest.mark.parametrize(
    "step",
    [
        "stall",
        "reset",
        "502",
        ("429", {"Retry-After": "120"}),
        ("200", {"Content-Type": "application/json"}, b"{oops"),
        ("200", {"Content-Type": "application/json"}, b'{"success": false, "error_code": 1032, "error_info": "No"}'),
        ("404", {"Content-Type": "application/json"}, b'{"success": false, "error_code": 1006, "error_info": "No"}'),
        ("302", {"Location": "https://elsewhere.example/"}, b""),
    ],
)
def test_get_orders_fails_like_get_order(sandbox: Sandbox, faulty: FaultyServer, step: Any) -> None:
    c = flaky_client(sandbox, faulty, timeout=0.3, max_attempts=1)
    failures = []
    for call in _both_ways(c):
        faulty.plan(step)
        failures.append(_failure(call))
    one, many = failures
    assert type(one) is type(many) and str(one) == str(many)
    assert _never_sent(one) == _never_sent(many)
    if isinstance(one, ApiError):
        assert (one.status_code, one.error_code, one.error_info) == (many.status_code, many.error_code, many.error_info)
        assert type(one.response) is type(many.response) is requests.Response
        for field in ("status_code", "reason", "url", "content", "encoding"):
            assert getattr(one.response, field) == getattr(many.response, field)
        assert one.response.request.headers == many.response.request.headers
        assert one.response.request.headers["api_key"] == "[redacted]"
        assert (one.response.next is None) == (many.response.next is None)
        if one.response.next is not None:
            assert one.response.next.headers == many.response.next.headers


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=UTF-8", "application/json; charset=latin-1", "text/plain", None],
)
def test_get_orders_reads_answers_like_get_order(sandbox: Sandbox, faulty: FaultyServer, content_type: Any) -> None:
    c = flaky_client(sandbox, faulty)
    c.create_order(ORDER, description="Crème brûlée")
    body = json.dumps({"success": True, "data": sandbox.get_order("order-1")}, ensure_ascii=False).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    got = []
    for call in _both_ways(c):
        faulty.plan(("200", headers, body))
        got.append(call())
    one, (many,) = got
    assert one == many and many["description"] == one["description"]


def test_get_orders_goes_to_the_journal(sandbox: Sandbox, tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal, Client(sandbox.api_key, base_url=sandbox.url, journal=journal) as c:
        c.create_order(ORDER)
        c.get_orders(["order-1", "order-1"], progress=False)
        with pytest.raises(NotFoundError):
            c.get_orders(["missing"], progress=False)
        requests_ = journal.requests_frame()
        assert requests_[["method", "path", "status_code"]].values.tolist() == [
            ["POST", "/orders", 200],
            ["GET", "/orders/order-1", 200],
            ["GET", "/orders/order-1", 200],
            ["GET", "/orders/missing", 404],
        ]
        assert requests_["error_code"].tolist()[-1] == 1006
        assert len(journal.history("order-1")) == 2


def test_a_refused_get_orders_fails_like_get_order() -> None:
    c = offline_client()
    one, many = (_failure(call) for call in _both_ways(c))
    assert type(one) is type(many) is requests.ConnectionError
    assert _never_sent(one) and _never_sent(many)


def _both_ways(c: Client) -> tuple[Any, Any]:
    """get_order, and get_orders: the same request, made by a worker thread."""
    return lambda: c.get_order("order-1"), lambda: c.get_orders(["order-1"], progress=False)


def _failure(call: Any) -> BaseException:
    with pytest.raises((ApiError, requests.RequestException)) as info:
        call()
    return info.value


def test_a_refused_connection_is_retried_then_raised(caplog: pytest.LogCaptureFixture) -> None:
    c = Client("key", base_url=f"http://127.0.0.1:{closed_port()}/v1/json", max_attempts=3, backoff=0.001)
    with caplog.at_level(logging.INFO, logger="msp_explore.client"), pytest.raises(requests.ConnectionError):
        c.refund_order("order-1", 100, currency="EUR")  # never sent, so even a refund may be retried
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and all("NewConnectionError" in m for m in retries)


def test_a_lost_create_is_recovered_without_a_second_post(sandbox: Sandbox) -> None:
    # The create takes effect and then its connection drops: the case that makes blind retries dangerous.
    sandbox.faults.add("POST /orders after_effect x1")
    created = faulted_client(sandbox, timeout=0.5).create_order(ORDER)
    assert created == {"order_id": "order-1", "payment_url": None, "session_id": None, "recovered": True}
    assert len(asked(sandbox, "POST", "/orders")) == 1  # looked up by order_id, never sent again
    assert len(asked(sandbox, "GET", "/orders/order-1")) == 1
    assert [t["order_id"] for t in faulted_client(sandbox).list_transactions()] == ["order-1"]


def test_a_lost_direct_create_returns_the_fetched_order(sandbox: Sandbox) -> None:
    sandbox.faults.add("POST /orders after_effect x1")
    created = faulted_client(sandbox).create_order(ORDER, type="direct", gateway="IDEAL")
    assert created["recovered"] is True and created["payment_url"] is None
    assert created["status"] == "initialized" and created["transaction_id"]
    assert len(asked(sandbox, "POST", "/orders")) == 1


@pytest.mark.parametrize("fault", ["reset", "status=502", "stall", "status=429"])
def test_a_create_that_never_arrived_is_sent_again(sandbox: Sandbox, fault: str) -> None:
    sandbox.faults.add(f"POST /orders {fault} x1")
    created = faulted_client(sandbox, timeout=0.5).create_order(ORDER)
    assert created["payment_url"] and "recovered" not in created
    assert [r["fault"] is not None for r in asked(sandbox, "POST", "/orders")] == [True, False]
    # after a 429 nothing needs checking; after anything else the order is looked up first
    assert len(asked(sandbox, "GET", "/orders/order-1")) == (0 if fault == "status=429" else 1)


def test_a_resend_that_finds_the_order_taken_checks_again(sandbox: Sandbox, faulty: FaultyServer) -> None:
    # The first POST lands but its answer is lost; a stale lookup says 404, so the order is sent again
    # and the API refuses the duplicate order_id; the second lookup finds the order.
    stale = b'{"success":false,"data":{},"error_code":1006,"error_info":"Invalid transaction ID"}'
    faulty.plan("forward_502", ("404", {"Content-Type": "application/json"}, stale))
    created = flaky_client(sandbox, faulty).create_order(ORDER)
    assert created["recovered"] is True
    assert faulty.count("POST", "/v1/json/orders", forwarded=True) == 2
    assert [t["order_id"] for t in faulted_client(sandbox).list_transactions()] == ["order-1"]


def test_someone_elses_order_is_not_taken_for_ours(client: Client, sandbox: Sandbox, faulty: FaultyServer) -> None:
    client.create_order(ORDER)
    faulty.plan("502")
    with pytest.raises(ApiError) as info:
        flaky_client(sandbox, faulty).create_order(ORDER, amount=2000)
    assert (info.value.status_code, info.value.error_code) == (400, 1006)
    assert sandbox.get_order("order-1")["amount"] == 1000


@pytest.mark.parametrize("fault", ["reset", "status=502", "after_effect"])
def test_refunds_are_not_retried_blindly(client: Client, sandbox: Sandbox, fault: str) -> None:
    paid_order(client, sandbox)
    sandbox.faults.add(f"POST /orders/*/refunds {fault} x1")
    with pytest.raises((ApiError, requests.ConnectionError)):
        faulted_client(sandbox).refund_order("order-1", 100, currency="EUR")
    assert len(asked(sandbox, "POST", "/orders/order-1/refunds")) == 1
    refunded = sandbox.get_order("order-1")["amount_refunded"]
    assert refunded == (100 if fault == "after_effect" else 0)  # it happened once, or not at all


@pytest.mark.parametrize("fault", ["status=502", "after_effect"])
def test_patches_are_not_retried_blindly(client: Client, sandbox: Sandbox, fault: str) -> None:
    client.create_order(ORDER)
    sandbox.faults.add(f"PATCH /orders/* {fault} x1")
    with pytest.raises((ApiError, requests.ConnectionError)):
        faulted_client(sandbox).cancel_order("order-1")
    assert len(asked(sandbox, "PATCH", "/orders/order-1")) == 1


# What the sandbox's faults cannot say (an answer that is not MultiSafepay's envelope, a 502 after the
# request took effect, a lookup that answers a stale 404) is said by a hand-made faulty server in front.
@pytest.mark.parametrize(
    ("step", "message"),
    [
        (("200", {"Content-Type": "application/json"}, b"{oops"), "OK: body is not JSON (application/json) (HTTP 200)"),
        (("200", {"Content-Type": "application/json"}, b"[1, 2]"), "OK: body is not a MultiSafepay envelope"),
        (("400", {"Content-Type": "text/plain"}, b""), "Bad Request: body is not JSON (text/plain) (HTTP 400)"),
        (("302", {"Location": "https://elsewhere.example/"}, b""), "Found: body is not JSON (text/html) (HTTP 302)"),
    ],
)
def test_answers_that_are_not_envelopes(sandbox: Sandbox, faulty: FaultyServer, step: Any, message: str) -> None:
    faulty.plan(step)
    with pytest.raises(ApiError) as info:
        flaky_client(sandbox, faulty).get_order("order-1")
    assert str(info.value).startswith(message)
    assert len(faulty.received) == 1  # redirects are not followed: the key would go along


# -- secrets -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def secret_sandbox() -> Iterator[Sandbox]:
    with Sandbox(api_key=SECRET, seed=0) as server:
        yield server


def _exception_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    response = getattr(exc, "response", None)
    if response is not None:
        texts += [str(response), repr(response), repr(dict(response.request.headers))]
        assert response.request.headers.get("api_key") in (None, "[redacted]")
        if response.next is not None:  # a redirect, not followed
            texts.append(repr(dict(response.next.headers)))
    return texts


def test_the_key_never_shows(
    sandbox: Sandbox, secret_sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "msp_explore"):
        caplog.set_level(logging.DEBUG, logger=name)
    journal = Journal(tmp_path / "journal.sqlite")
    fast = {"backoff": 0.001, "max_attempts": 2, "journal": journal}
    wrong = made(Client(SECRET, base_url=sandbox.url, **fast))
    right = made(Client(SECRET, base_url=secret_sandbox.url, **fast))
    right.create_order(ORDER)
    with FaultyServer(secret_sandbox.server.url_for(""), stall_seconds=2) as faulty:
        through = made(Client(SECRET, base_url=faulty.url + "/v1/json", timeout=0.3, **fast))
        refused = made(Client(SECRET, base_url=f"http://127.0.0.1:{closed_port()}/v1/json", **fast))
        cases: list[tuple[Any, type[BaseException]]] = [
            (lambda: wrong.get_order("order-1"), AuthenticationError),  # 401
            (lambda: list(wrong.list_transactions()), AuthenticationError),  # 403
            (lambda: right.get_order("missing"), NotFoundError),  # 404
            (lambda: right.create_order(ORDER, order_id="x", gateway="NOPE"), ApiError),  # 400 from the sandbox
            (lambda: right.create_order(ORDER, amount=10.5), ValidationError),  # local
            (lambda: Client(SECRET + " x"), ValidationError),  # a malformed key
            (lambda: refused.get_order("order-1"), requests.ConnectionError),
            # retries exhausted on read timeouts: requests says ConnectionError (caused by ReadTimeoutError)
            (lambda: faulty.plan("stall", "stall") or through.get_order("order-1"), requests.ConnectionError),
            (lambda: faulty.plan("503", "503") or through.get_order("order-1"), ApiError),  # 5xx exhausted
            (lambda: faulty.plan(("200", {}, b"{bad json")) or through.get_order("order-1"), ApiError),
            (
                lambda: faulty.plan(("302", {"Location": "http://elsewhere.example/"}, b"")) or through.get_order("x"),
                ApiError,
            ),
            # the same through get_orders
            (lambda: wrong.get_orders(["order-1"], progress=False), AuthenticationError),
            (lambda: right.get_orders(["order-1", "missing"], progress=False), NotFoundError),
            (lambda: refused.get_orders(["order-1"], progress=False), requests.ConnectionError),
            (
                lambda: faulty.plan("stall", "stall") or through.get_orders(["order-1"], progress=False),
                requests.ConnectionError,
            ),
            (lambda: faulty.plan("503", "503") or through.get_orders(["order-1"], progress=False), ApiError),
            (
                lambda: (
                    faulty.plan(("302", {"Location": "http://elsewhere.example/"}, b""))
                    or through.get_orders(["x"], progress=False)
                ),
                ApiError,
            ),
            # a create whose answer is lost, and whose lookup fails too
            (lambda: faulty.plan("forward_reset", "reset", "reset") or through.create_order(ORDER), OSError),
        ]
        for call, error in cases:
            with pytest.raises(error) as info:
                call()
            for text in _exception_texts(info.value):
                assert SECRET not in text
    texts = [repr(c) for c in (wrong, right, through, refused)] + [repr(c._settings) for c in (wrong, right)]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    assert len(caplog.records) > 20
    journal.close()
    texts.append((tmp_path / "journal.sqlite").read_bytes().decode("latin-1"))
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        texts += [repr(row) for row in db.execute("SELECT * FROM requests")]
    for text in texts:
        for form in (SECRET, quote(SECRET, safe="")):
            assert form not in text


def test_the_key_is_redacted_even_if_a_network_error_quoted_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: the key is never in a URL, but an error message quoting it is still rewritten."""
    leaky = Client(SECRET, base_url=f"http://127.0.0.1:{closed_port()}/v1/json", max_attempts=1)

    def request(*args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError(f"could not reach http://x/?api_key={SECRET}")

    monkeypatch.setattr(leaky.session, "request", request)
    with pytest.raises(requests.ConnectionError) as info:
        leaky.get_order("order-1")
    assert "api_key=[redacted]" in str(info.value)
    assert all(SECRET not in text for text in _exception_texts(info.value))
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- display --------------------------------------------------------------------------------------------------
def test_an_order_result_is_still_a_plain_dict(client: Client, sandbox: Sandbox) -> None:
    paid_order(client, sandbox)
    got = client.get_order("order-1")
    plain = json.loads(json.dumps(got))
    assert got == plain and repr(got) == repr(plain)
    assert pickle.loads(pickle.dumps(got)) == plain
    html = got._repr_html_()
    assert "EUR 10.00" in html and "order-1" in html and ">completed</span>" in html
    assert sandbox.api_key not in html


def test_the_card_escapes_everything() -> None:
    order = OrderResult(
        order_id='"><img src=x onerror=alert(1)>',
        description="<script>alert('x')</script> & more",
        status="<b>completed</b>",
        amount=123456,
        currency="EUR",
        amount_refunded=500,
        payment_url='https://pay.example/?a=1&b="2"',
        created="2026-01-01T12:00:00",
    )
    html = order_card(order)
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html
    assert '<a href="https://pay.example/?a=1&amp;b=&quot;2&quot;" target="_blank"' in html
    assert "EUR 1,234.56" in html and "EUR 5.00 refunded" in html and "created 2026-01-01T12:00:00" in html
    inert = order_card({"order_id": "x", "payment_url": "javascript:alert(1)"})
    assert "<a " not in inert and "javascript:alert(1)" in inert
    recovered = order_card({"order_id": "x", "payment_url": None, "recovered": True})
    assert "payment_url unknown" in recovered


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(1000, "EUR", "EUR 10.00"), (5, "eur", "EUR 0.05"), (-250, "USD", "USD -2.50"), (1500, "JPY", "JPY 1,500")],
)
def test_format_amount(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown


def test_the_package_exports_client_and_connect_lazily() -> None:
    import msp_explore

    assert msp_explore.Client is Client and msp_explore.connect is connect
    assert {"Client", "connect"} <= set(msp_explore.__all__)
