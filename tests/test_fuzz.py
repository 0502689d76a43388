"""Fuzz the running sandbox over HTTP with Hypothesis: whatever arrives, it answers like MultiSafepay.

For every request:

- the status is never 5xx;
- every /v1/json response is strict JSON (no ``NaN``/``Infinity``): 2xx bodies say ``success: true``, and
  4xx bodies are the error envelope ``{"success": false, "data": {}, "error_code": int, "error_info": str}``,
  except the two bare bodies MultiSafepay documents for /transactions (403 ``{"message": "Forbidden"}``,
  404 ``{"message": "Not found"}`` on /transactions/{id});

and after each test the sandbox still serves an ordinary client (the autouse ``still_healthy`` fixture).
"""

from __future__ import annotations

import copy
import itertools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from msp_explore.sandbox import Sandbox

# Hypothesis caches Unicode tables under ./.hypothesis; keep the repository clean.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "msp-explore-hypothesis")

FUZZ = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one sandbox per test: its state piling up is part of the fuzz
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
_serial = itertools.count()


# -- the property -------------------------------------------------------------------------------------
def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check(response: requests.Response) -> Any:
    """Assert the properties above for one response; return its JSON body (None off the API)."""
    request = response.request
    said = f"{request.method} {str(request.url)[:300]} -> {response.status_code}: {response.text[:500]!r}"
    assert response.status_code < 500, said
    path = urlsplit(str(request.url)).path
    if not path.startswith("/v1/json"):
        return None
    assert response.headers.get("Content-Type", "").startswith("application/json"), said
    body = json.loads(response.content, parse_constant=_no_constants)
    status = response.status_code
    if status >= 400:
        if path.startswith("/v1/json/transactions") and (status, body) == (403, {"message": "Forbidden"}):
            return body
        if path.startswith("/v1/json/transactions/") and (status, body) == (404, {"message": "Not found"}):
            return body
        assert isinstance(body, dict) and body.get("success") is False, said
        assert type(body.get("error_code")) is int, said
        assert isinstance(body.get("error_info"), str), said
        assert body.get("data") == {}, said
    elif status < 300:
        assert isinstance(body, dict) and body.get("success") is True, said
    return body


def send(api: requests.Session, method: str, url: str, *, exact: bool = False, **kwargs: Any) -> requests.Response:
    """Send one request and check it; redirects (the payment page's, to merchant URLs) are never followed."""
    prepared = api.prepare_request(requests.Request(method, url, **kwargs))
    if exact:
        prepared.url = url  # requests would re-quote stray percent signs; send the path exactly as written
    response = api.send(prepared, allow_redirects=False, timeout=30)
    check(response)
    return response


def _api(api: requests.Session, path: str) -> str:
    return f"{api.base}{path}"  # type: ignore[attr-defined]


def _root(api: requests.Session, path: str) -> str:
    return f"{api.base.removesuffix('/v1/json')}{path}"  # type: ignore[attr-defined]


def _fresh_id(prefix: str = "fuzz") -> str:
    return f"{prefix}-{next(_serial)}"


# -- strategies -----------------------------------------------------------------------------------------
ODD_STRINGS = st.sampled_from(
    ["", " ", "\x00", "null", "NaN", "1e309", "0x10", "１０００", "²", "٣", "ideal", "IDEAL", "%", "%zz", "../..",
     "a/b", "\u202e", "😀", "é" * 60, "<script>", "'; drop table", "\ufeff"]
)  # fmt: skip
LONE_SURROGATES = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
TEXT = st.one_of(
    st.text(max_size=40),
    ODD_STRINGS,
    LONE_SURROGATES,
    st.integers(200, 300_000).map(lambda n: "x" * n),  # huge, some beyond the 1 MiB body limit
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=10**18, max_value=10**40),
    st.floats(),  # NaN and Infinity too: json.dumps writes them, strict JSON has no such thing
)
LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12) | ODD_STRINGS, inner, max_size=4),
    max_leaves=12,
)
AMOUNTS = st.one_of(
    st.sampled_from([-1, 0, 1, 100, 999, 1000, 2500, 10**11, 10**11 + 1, 1.5, 1000.0, True, False, "1000", None]),
    NUMBERS,
    JSON,
)
CURRENCIES = st.sampled_from(["EUR", "eur", "USD", "JPY", "GBP", "FOOBAR", "", "€€€", 978, None]) | TEXT
GATEWAYS = st.sampled_from(
    ["IDEAL", "ideal", "VISA", "CREDITCARD", "MASTERCARD", "AMEX", "BANKTRANS", "DIRDEB", "MBWAY", "MYBANK",
     "PAYPAL", "KLARNA", "BOEKENBON", "MISTERCASH", "NOPE", "", None, 1, ["IDEAL"]]
)  # fmt: skip
SCENARIOS = st.sampled_from(
    ["completed", "declined", "cancelled", "expired", "uncleared", "success", "failure", "4111111111111111",
     "4012001037461114", "4917300000000008", "NL87ABNA0000000001", "NL87ABNA0000000002", "111115", "111110",
     "allianz", "approved"]
)  # fmt: skip

VALID_ORDER: dict[str, Any] = {
    "type": "redirect",
    "order_id": "fuzz",
    "gateway": "IDEAL",
    "currency": "EUR",
    "amount": 1000,
    "description": "Fuzz order",
    "payment_options": {
        "notification_url": "https://www.example.com/notify",  # not localhost: the sandbox never sends it
        "redirect_url": "https://www.example.com/paid",
        "cancel_url": "https://www.example.com/cancelled",
        "close_window": False,
    },
    "customer": {"locale": "nl_NL", "first_name": "Jan", "last_name": "Jansen", "email": "jan@example.com",
                 "country": "NL", "ip_address": "127.0.0.1"},
    "custom_info": {"custom_1": "one"},
    "var1": "v1",
}  # fmt: skip
SPECIAL: dict[str, st.SearchStrategy[Any]] = {
    "amount": AMOUNTS,
    "currency": CURRENCIES,
    "gateway": GATEWAYS,
    "type": st.sampled_from(["redirect", "direct", "paymentlink", "checkout", "DIRECT", "", 1, None]),
    "card_number": SCENARIOS | st.integers(),
    "account_holder_iban": SCENARIOS,
    "locale": st.sampled_from(["en_US", "nl", "xx_XX", "NL_nl", ""]) | TEXT,
    "country": st.sampled_from(["NL", "nl", "NLD", ""]) | TEXT,
    "ip_address": st.sampled_from(["::1", "999.1.1.1", "1.2.3", "fe80::1%eth0"]) | TEXT,
    "notification_method": st.sampled_from(["POST", "GET", "post", "PUT"]) | TEXT,
    "days_active": st.sampled_from([0, 1, 365, 366, -5, 1.5]) | NUMBERS,
    "seconds_active": st.sampled_from([0, 1, 31_536_000, 31_536_001]) | NUMBERS,
    "capture": st.sampled_from(["manual", "MANUAL", "auto"]) | JSON,
}
URLS = st.sampled_from(
    ["http://[::1", "http://[::1]:8080/x", "http://a:99999/x", "http://127.0.0.1:99999/x", "http://127.0.0.1:9/hook",
     "javascript:alert(1)", "https://例え.jp/ok", "//no-scheme.example", "http://", "https://example.com/?a=1#f"]
) | TEXT  # fmt: skip
SPECIAL |= {"notification_url": URLS, "redirect_url": URLS, "cancel_url": URLS}
FIELDS = [
    ("type",), ("order_id",), ("gateway",), ("currency",), ("amount",), ("description",), ("items",),
    ("payment_options",), ("payment_options", "notification_url"), ("payment_options", "redirect_url"),
    ("payment_options", "cancel_url"), ("payment_options", "notification_method"),
    ("payment_options", "close_window"), ("customer",), ("customer", "locale"), ("customer", "email"),
    ("customer", "ip_address"), ("customer", "country"), ("customer", "first_name"), ("customer", "phone"),
    ("gateway_info",), ("gateway_info", "card_number"), ("gateway_info", "account_holder_iban"),
    ("gateway_info", "card_expiry_date"), ("custom_info",), ("custom_info", "custom_1"), ("shopping_cart",),
    ("shopping_cart", "items"), ("checkout_options",), ("delivery",), ("var1",), ("var3",), ("days_active",),
    ("seconds_active",), ("capture",), ("nested", "junk"),
]  # fmt: skip


@st.composite
def mutated_orders(draw: st.DrawFn) -> dict[str, Any]:
    """A valid order with a few fields replaced by wrong types, odd values, junk, or removed."""
    order = copy.deepcopy(VALID_ORDER)
    order["order_id"] = _fresh_id()  # fresh, so creation gets past the duplicate check
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(FIELDS))
        parent = order
        for key in path[:-1]:
            if not isinstance(parent.get(key), dict):
                parent[key] = {}
            parent = parent[key]
        if draw(st.integers(0, 4)) == 0:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(SPECIAL.get(path[-1], JSON))
    return order


def _encode(body: Any) -> bytes:
    # json.dumps (not requests' json=) so NaN/Infinity and lone surrogates (as \ud800 escapes) get through
    return json.dumps(body).encode()


# -- sandbox states to aim at -------------------------------------------------------------------------
def _create(api: requests.Session, **fields: Any) -> dict[str, Any]:
    body = copy.deepcopy(VALID_ORDER) | {"order_id": _fresh_id()} | fields
    response = api.post(_api(api, "/orders"), json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"] | {"order_id": body["order_id"]}


def _in_state(api: requests.Session, sandbox: Sandbox, state: str) -> str:
    """A fresh order in one of the states the write endpoints care about; returns its order_id."""
    if state == "authorised":
        info = {"card_number": "4111111111111111", "card_expiry_date": "3012", "card_cvc": "123"}
        return str(_create(api, type="direct", gateway="VISA", gateway_info=info, capture="manual")["order_id"])
    order_id = str(_create(api)["order_id"])
    if state in ("completed", "refunded"):
        sandbox.pay(order_id, "completed")
    if state == "refunded":
        api.post(_api(api, f"/orders/{order_id}/refunds"), json={"currency": "EUR", "amount": 300}, timeout=30)
    return order_id


@pytest.fixture(autouse=True)
def still_healthy(api: requests.Session) -> Iterator[None]:
    yield
    # whatever the fuzz did, an ordinary client still gets ordinary answers
    assert api.get(_api(api, "/gateways"), timeout=30).status_code == 200
    order_id = str(_create(api)["order_id"])
    got = api.get(_api(api, f"/orders/{quote(order_id, safe='')}"), timeout=30)
    assert got.status_code == 200 and got.json()["data"]["status"] == "initialized"
    assert api.get(_api(api, "/transactions"), params={"limit": 5}, timeout=30).status_code == 200


# -- the fuzz -------------------------------------------------------------------------------------------
WRITES = [
    ("POST", "/orders"),
    ("PATCH", "/orders/{id}"),
    ("POST", "/orders/{id}/refunds"),
    ("PATCH", "/orders/{id}/refunds/{refund}"),
    ("POST", "/orders/{id}/capture"),
    ("POST", "/orders/{id}/cancel"),
    ("PATCH", "/capture/{id}"),
    ("POST", "/sandbox/orders/{id}/pay"),
    ("POST", "/sandbox/advance"),
]


@pytest.fixture
def targets(api: requests.Session, sandbox: Sandbox) -> dict[str, str]:
    """Orders in a few states, and a refund, for fuzzed requests to land on."""
    ids = {state: _in_state(api, sandbox, state) for state in ("initialized", "completed", "authorised")}
    refund = api.post(_api(api, f"/orders/{ids['completed']}/refunds"), json={"currency": "EUR", "amount": 100})
    return ids | {"refund": str(refund.json()["data"]["refund_id"])}


def _fill(template: str, order_id: str, refund: str) -> str:
    return template.replace("{id}", quote(order_id, safe="")).replace("{refund}", refund)


@FUZZ
@given(where=st.sampled_from(WRITES), state=st.sampled_from(["initialized", "completed", "authorised"]), body=JSON)
def test_random_json_bodies(
    api: requests.Session, targets: dict[str, str], where: tuple[str, str], state: str, body: Any
) -> None:
    method, template = where
    url = _api(api, _fill(template, targets[state], targets["refund"]))
    send(api, method, url, data=_encode(body), headers={"Content-Type": "application/json"})


@FUZZ
@given(order=mutated_orders())
def test_mutated_orders(api: requests.Session, order: dict[str, Any]) -> None:
    created = send(api, "POST", _api(api, "/orders"), data=_encode(order), headers={"Content-Type": "application/json"})
    if created.status_code == 200:  # what was accepted must also be served back without trouble
        send(api, "GET", _api(api, f"/orders/{quote(str(order['order_id']), safe='')}"))
        send(api, "GET", _api(api, "/transactions"), params={"limit": 3})


IDS = st.one_of(
    st.text(min_size=1, max_size=60),
    ODD_STRINGS.filter(bool),
    st.text(st.sampled_from("/%.?#&=+ abc"), min_size=1, max_size=20),
    st.integers(1, 3000).map(lambda n: "x" * n),
)
BY_ID = [
    ("GET", "/v1/json/orders/{}"),
    ("PATCH", "/v1/json/orders/{}"),
    ("POST", "/v1/json/orders/{}/refunds"),
    ("PATCH", "/v1/json/orders/{}/refunds/{}"),
    ("POST", "/v1/json/orders/{}/capture"),
    ("POST", "/v1/json/orders/{}/cancel"),
    ("PATCH", "/v1/json/capture/{}"),
    ("GET", "/v1/json/transactions/{}"),
    ("GET", "/v1/json/gateways/{}"),
    ("GET", "/v1/json/payment-methods/{}"),
    ("GET", "/v1/json/issuers/{}"),
    ("POST", "/v1/json/sandbox/orders/{}/pay"),
    ("GET", "/connect/{}/"),
    ("POST", "/connect/{}/"),
]


@FUZZ
@given(
    where=st.sampled_from(BY_ID),
    raw_id=IDS,
    quoting=st.sampled_from(["all", "keep slashes and percent signs"]),
    known=st.booleans(),
)
def test_odd_ids_in_paths(
    api: requests.Session, targets: dict[str, str], where: tuple[str, str], raw_id: str, quoting: str, known: bool
) -> None:
    method, template = where
    order_id = targets["completed"] + raw_id if known else raw_id
    quoted = quote(order_id, safe="" if quoting == "all" else "/%")
    url = _root(api, template.replace("{}", quoted))
    body = {"currency": "EUR", "amount": 100, "status": "cancelled", "reason": "fuzz"}
    send(api, method, url, exact=True, json=body)


FILTER_KEYS = st.sampled_from(
    ["limit", "after", "before", "created_from", "created_until", "completed_from", "completed_until", "currency",
     "financial_status", "status", "payment_method", "type", "site_id", "debit_credit", "api_key"]
)  # fmt: skip
DATES = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.dates().map(str),
    st.integers(-(10**12), 10**14).map(str),
    st.sampled_from(["2026-01-01T12:00:00", "2026-01-01", "1767268800", "2026-13-01", "0", "-1", "9" * 30]),
)
QUERY_VALUES = st.one_of(
    st.text(max_size=30),
    ODD_STRINGS,
    DATES,
    st.integers(-5, 2000).map(str),
    st.sampled_from(["IDEAL", "VISA,IDEAL", "completed", "refunded", "payment", "refund", "EUR", "C", "D", "12345"]),
)


LIMITS = st.sampled_from(["0", "1", "2", "1000", "1001", "-1", "1.5", "", " 5", "²", "٣", "1" * 30]) | QUERY_VALUES


@FUZZ
@given(
    params=st.lists(st.tuples(FILTER_KEYS | st.text(max_size=10), QUERY_VALUES), max_size=6),
    limit=st.none() | LIMITS,
    cursor=st.data(),
)
def test_transaction_queries(
    api: requests.Session,
    targets: dict[str, str],
    params: list[tuple[str, str]],
    limit: str | None,
    cursor: st.DataObject,
) -> None:
    first = send(api, "GET", _api(api, "/transactions"), params={"limit": 2}).json()
    if cursor.draw(st.booleans(), label="use a real cursor"):
        name = cursor.draw(st.sampled_from(["after", "before"]))
        params = [*params, (name, first["pager"]["cursor"][name])]
    if limit is not None:
        params = [("limit", limit), *params]
    send(api, "GET", _api(api, "/transactions"), params=params)


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


BODIES = {
    "update": (
        "PATCH",
        "/orders/{id}",
        _optional(
            status=st.sampled_from(["cancelled", "shipped", "completed", "void", ""]) | JSON,
            exclude_order=st.booleans() | JSON,
            extend_expiration=st.booleans() | JSON,
            tracktrace_code=TEXT,
            tracktrace_url=TEXT,
            carrier=TEXT,
            ship_date=TEXT | DATES,
            reason=TEXT,
            invoice_id=TEXT,
            amount=AMOUNTS,
        ),
    ),
    "refund": (
        "POST",
        "/orders/{id}/refunds",
        _optional(
            currency=CURRENCIES,
            amount=AMOUNTS,
            description=TEXT,
            refund_order_id=TEXT | JSON,
            var1=TEXT,
            checkout_data=JSON,
        ),
    ),
    "cancel refund": ("PATCH", "/orders/{id}/refunds/{refund}", _optional(status=st.just("void") | JSON)),
    "capture": (
        "POST",
        "/orders/{id}/capture",
        _optional(
            amount=AMOUNTS,
            new_order_status=st.sampled_from(["completed", "shipped"]) | JSON,
            new_order_id=TEXT | JSON,
            invoice_id=TEXT,
            carrier=TEXT,
            reason=TEXT,
            description=TEXT | JSON,
        ),
    ),
    "cancel authorisation": (
        "PATCH",
        "/capture/{id}",
        _optional(status=st.sampled_from(["cancelled", "void"]) | JSON, reason=TEXT | JSON, description=TEXT),
    ),
    "cancel transaction": ("POST", "/orders/{id}/cancel", _optional(junk=JSON)),
    # the sandbox's own controls live under /v1/json too, so they answer like the API
    "sandbox pay": ("POST", "/sandbox/orders/{id}/pay", _optional(scenario=SCENARIOS | JSON, gateway=GATEWAYS | JSON)),
    "sandbox advance": (
        "POST",
        "/sandbox/advance",
        _optional(seconds=st.sampled_from([0, 1, 180, 86400, 3.2e7, 1e10, 1e308, -1, "60"]) | NUMBERS | JSON),
    ),
}


@FUZZ
@given(
    action=st.sampled_from(sorted(BODIES)),
    state=st.sampled_from(["initialized", "completed", "authorised", "refunded"]),
    data=st.data(),
)
def test_update_refund_capture_bodies(
    api: requests.Session, sandbox: Sandbox, action: str, state: str, data: st.DataObject
) -> None:
    order_id = _in_state(api, sandbox, state)
    order = api.get(_api(api, f"/orders/{order_id}")).json()["data"]
    refunds = [t for t in order["related_transactions"] or [] if t["type"] == "refund"]
    refund = str(refunds[0]["transaction_id"]) if refunds else "1"
    method, template, bodies = BODIES[action]
    body = data.draw(bodies, label="body")
    send(api, method, _api(api, _fill(template, order_id, refund)), data=_encode(body))
    send(api, "GET", _api(api, f"/orders/{order_id}"))  # whatever happened, the order still reads back
    send(api, "GET", _api(api, "/transactions"), params={"limit": 5})


FORM_KEYS = st.sampled_from(["gateway", "scenario", "card_number", "iban", "code", "expiry", "holder", "cvc"])
FORM_VALUES = st.one_of(
    SCENARIOS,
    st.sampled_from(
        ["IDEAL", "VISA", "CREDITCARD", "BANKTRANS", "BOEKENBON", "MBWAY", "1234", "12/30", "13/99", "²/²", "١٢/٣٠"]
    ),
    st.text(max_size=30),
    ODD_STRINGS,
)


@FUZZ
@given(
    gateway=st.sampled_from(
        [None, "IDEAL", "VISA", "CREDITCARD", "BANKTRANS", "BOEKENBON", "MBWAY", "MYBANK", "PAYPAL"]
    ),
    form=st.lists(st.tuples(FORM_KEYS | st.text(max_size=10), FORM_VALUES), max_size=6),
    session=st.sampled_from(["real", "random"]),
    random_session=st.text(max_size=40),
    twice=st.booleans(),
)
def test_payment_page_posts(
    api: requests.Session,
    gateway: str | None,
    form: list[tuple[str, str]],
    session: str,
    random_session: str,
    twice: bool,
) -> None:
    created = _create(api, gateway=gateway)
    session_id = created["session_id"] if session == "real" else random_session
    page = _root(api, f"/connect/{quote(session_id, safe='')}/")
    send(api, "GET", page, params=dict(form[:1]))
    for _ in range(2 if twice else 1):
        send(api, "POST", page, data=form)
    order = send(api, "GET", _api(api, f"/orders/{quote(created['order_id'], safe='')}")).json()["data"]
    send(api, "GET", _api(api, f"/transactions/{order['transaction_id']}"))


BYTES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda value: json.dumps(value).encode("utf-16")),
    JSON.map(lambda value: b"\xef\xbb\xbf" + json.dumps(value).encode()),  # a UTF-8 byte order mark
    st.sampled_from(
        [b"{", b"[" * 5000 + b"]" * 5000, b'{"amount": NaN}', b'{"amount": Infinity}', b'{"a": 1, "a": 2}',
         b'{"order_id": "\\ud800", "currency": "EUR", "amount": 1000, "description": "x"}', b"\x00", b"null",
         b'"just a string"', b"1e999999", b"9" * 5000]
    ),
)  # fmt: skip
CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "application/json; charset=latin-1", "text/plain", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=xyz", "multipart/form-data", "application/xml", "", "garbage/\u00e9"]
)  # fmt: skip


@FUZZ
@given(where=st.sampled_from(WRITES), body=BYTES, content_type=CONTENT_TYPES)
def test_invalid_bytes_and_content_types(
    api: requests.Session, targets: dict[str, str], where: tuple[str, str], body: bytes, content_type: str | None
) -> None:
    method, template = where
    headers = {"Content-Type": content_type} if content_type is not None else {}
    url = _api(api, _fill(template, targets["initialized"], targets["refund"]))
    send(api, method, url, data=body, headers=headers)


# what requests can put in a header: latin-1, no whitespace or control characters
LATIN_1 = st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_categories=["Cc", "Zs"]), max_size=60)


@FUZZ
@given(
    where=st.sampled_from([("GET", "/orders/x"), ("POST", "/orders"), ("GET", "/transactions"),
                           ("GET", "/transactions/1"), ("GET", "/gateways"), ("GET", "/payment-methods")]),
    key=LATIN_1,
    how=st.sampled_from(["api_key header", "bearer", "query", "none"]),
)  # fmt: skip
def test_wrong_keys(api: requests.Session, where: tuple[str, str], key: str, how: str) -> None:
    method, path = where
    with requests.Session() as anonymous:
        headers = {"api_key": key} if how == "api_key header" else {}
        if how == "bearer":
            headers["Authorization"] = f"Bearer {key}"
        params = {"api_key": key} if how == "query" else {}
        response = send(anonymous, method, _api(api, path), headers=headers, params=params, json=VALID_ORDER)
    assert response.status_code in (401, 403)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        pytest.param("POST", "/v1/json/orders", {"data": b"{" * (2 * 1024 * 1024)}, 413, id="2 MiB body"),
        pytest.param("POST", "/v1/json/orders", {"data": b"[" * 200_000}, 400, id="deeply nested JSON"),
        pytest.param("POST", "/v1/json/orders", {"data": iter([b'{"order_id": ', b'"chunked"}'])}, 400, id="chunked"),
        pytest.param("DELETE", "/v1/json/orders", {}, 405, id="method not allowed"),
        pytest.param("GET", "/v1/json/no-such-endpoint", {}, 404, id="unknown endpoint"),
        pytest.param("GET", "/v1/json/transactions/1/2", {}, 404, id="unknown transaction path"),
        pytest.param("GET", "/v1/json/orders/" + "x" * 8000, {}, 404, id="8000-character order id"),
    ],
)
def test_edge_requests(api: requests.Session, method: str, path: str, kwargs: dict[str, Any], status: int) -> None:
    assert send(api, method, _root(api, path), **kwargs).status_code == status
