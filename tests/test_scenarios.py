"""Every test payment scenario reaches the status MultiSafepay documents for it, and the flows after payment.

Two tables drive the scenario tests: the sandbox's own catalog (every gateway, every scenario, each
fallback) and ``FACTS``, written by hand from msp-api-facts.md section 5, so the catalog itself is
checked against the documentation. Delayed outcomes are reached with ``sandbox.advance``, and the status
just before each documented delay is checked too.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from _receiver import Receiver

from msp_explore.sandbox import Sandbox
from msp_explore.sandbox.catalog import GATEWAYS, GIFTCARD_BALANCE, Gateway, Scenario, scenario_for_amount

MIN, HOUR, DAY = 60, 3600, 86400


def _create(api: requests.Session, order_id: str, **fields: Any) -> dict[str, Any]:
    body = {"order_id": order_id, "currency": "EUR", "amount": 1000, "description": f"Order {order_id}"} | fields
    response = api.post(f"{api.base}/orders", json=body)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def _get(api: requests.Session, order_id: str) -> dict[str, Any]:
    response = api.get(f"{api.base}/orders/{order_id}")  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def _statuses(order: dict[str, Any]) -> tuple[str, str]:
    return order["status"], order["financial_status"]


def _error(response: requests.Response, status: int | None = None) -> tuple[int, str]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status
    body = response.json()
    assert body["success"] is False and body["data"] == {}
    return body["error_code"], body["error_info"]


class Timeline:
    """Moves the sandbox clock to exact offsets from the moment of payment."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.start = sandbox.clock.now()

    def at(self, seconds: int) -> None:
        elapsed = (self.sandbox.clock.now() - self.start).total_seconds()
        if seconds > elapsed:
            self.sandbox.advance(seconds - elapsed)


# -- the catalog: every gateway's every scenario reaches its own outcome --------------------------------
def _catalog_cases() -> Iterator[Any]:
    for gateway in GATEWAYS.values():
        for scenario in gateway.scenarios:
            yield pytest.param(gateway, scenario, scenario.key, id=f"{gateway.id}-{scenario.key}")
        if gateway.fallback is not None:
            # typed input that matches no listed test value, e.g. any other IBAN
            yield pytest.param(gateway, gateway.fallback, "NL91ABNA0417164300", id=f"{gateway.id}-fallback")


_AMOUNT_FOR = {"declined": 999, "completed": 1500, "expired": 2001}


@pytest.mark.parametrize(("gateway", "scenario", "choice"), list(_catalog_cases()))
def test_catalog_scenario(
    sandbox: Sandbox, api: requests.Session, gateway: Gateway, scenario: Scenario, choice: str
) -> None:
    amount = _AMOUNT_FOR[scenario.key] if gateway.form == "amount" else 500
    _create(api, "cat-1", gateway=gateway.id, amount=amount)
    paid = sandbox.pay("cat-1", choice)
    timeline = Timeline(sandbox)

    steps = scenario.steps
    if gateway.form == "giftcard" and GIFTCARD_BALANCE[scenario.key] < amount:
        steps = ((0, "declined", "declined"),)  # the card's balance does not cover the order
    assert _statuses(paid) == steps[0][1:]
    assert paid["payment_details"]["type"] in (gateway.id, "VISA", "MASTERCARD", "AMEX", "MAESTRO")
    for (before, *previous), (delay, *expected) in zip(steps, steps[1:], strict=False):
        timeline.at((before + delay) // 2)
        assert _statuses(_get(api, "cat-1")) == tuple(previous)
        timeline.at(delay)
        assert _statuses(_get(api, "cat-1")) == tuple(expected)
    assert _get(api, "cat-1")["status"] == (steps[-1][1])


# -- the facts: msp-api-facts.md section 5, written out by hand ----------------------------------------
@dataclass(frozen=True)
class Fact:
    gateway: str | None
    pay_with: str | None
    timeline: tuple[tuple[int, str, str | None], ...]  # (seconds after payment, status, financial status)
    amount: int = 1000
    reason: str = ""  # a word the order's reason must contain


def _f(gateway: str | None, pay_with: str | None, *timeline: tuple[Any, ...], **kw: Any) -> Fact:
    return Fact(gateway, pay_with, tuple((t, s, f) for t, s, f in timeline), **kw)


PAID, DECLINED, VOID, EXPIRED = (
    (0, "completed", "completed"),
    (0, "declined", "declined"),
    (0, "void", "void"),
    (0, "expired", "expired"),
)
INIT = (0, "initialized", "initialized")
AUTHORISED_BNPL = (0, "completed", "uncleared")

FACTS: dict[str, Fact] = {
    # iDEAL
    "iDEAL success": _f("IDEAL", "success", PAID),
    "iDEAL failure": _f("IDEAL", "failure", DECLINED),
    "iDEAL cancelled": _f("IDEAL", "cancelled", VOID),
    "iDEAL expired": _f("IDEAL", "expired", EXPIRED),
    # Bancontact cards
    "Bancontact completed": _f("MISTERCASH", "67034500054620008", PAID),
    "Bancontact 3DS failed": _f("MISTERCASH", "67039902990000045", DECLINED, reason="3DS"),
    "Bancontact no funds": _f("MISTERCASH", "67039902990000011", DECLINED, reason="nsufficient"),
    # cards, by brand gateway
    "Amex completed": _f("AMEX", "374500000000015", PAID),
    "Maestro completed": _f("MAESTRO", "6799990000000000011", PAID),
    "Mastercard completed": _f("MASTERCARD", "5500000000000004", PAID),
    "Visa completed 4111": _f("VISA", "4111111111111111", PAID),
    "Visa completed 4761": _f("VISA", "4761340000000019", PAID),
    "Visa uncleared then void": _f(
        "VISA",
        "4917300000000008",
        (0, "uncleared", "uncleared"),
        (179, "uncleared", "uncleared"),
        (180, "void", "void"),
    ),
    "Amex uncleared then void": _f(
        "AMEX", "378734493671000", (0, "uncleared", "uncleared"), (179, "uncleared", "uncleared"), (180, "void", "void")
    ),
    "Visa uncleared then completed": _f(
        "VISA",
        "4462000000000003",
        (0, "uncleared", "uncleared"),
        (179, "uncleared", "uncleared"),
        (180, "completed", "completed"),
    ),
    "Amex 3DS failed": _f("AMEX", "374200000000004", DECLINED, reason="3DS"),
    "Visa 3DS failed": _f("VISA", "4012001037461114", DECLINED, reason="3DS"),
    "Visa no funds": _f("VISA", "4012001038488884", DECLINED, reason="nsufficient"),
    # bank transfer (IBAN typed on the page)
    "Bank transfer 0001": _f(
        "BANKTRANS", "NL87ABNA0000000001", INIT, (119, "initialized", None), (120, "completed", "completed")
    ),
    "Bank transfer 0002": _f(
        "BANKTRANS", "NL87ABNA0000000002", INIT, (119, "initialized", None), (120, "expired", "expired")
    ),
    "Bank transfer 0004": _f(
        "BANKTRANS", "NL87ABNA0000000004", INIT, (119, "initialized", None), (120, "declined", "declined")
    ),
    "Bank transfer other IBAN": _f(
        "BANKTRANS", "DE89370400440532013000", INIT, (5 * DAY - 1, "initialized", None), (5 * DAY, "expired", "expired")
    ),
    # SEPA direct debit
    "Direct debit 0001": _f(
        "DIRDEB", "NL87ABNA0000000001", (0, "uncleared", "initialized"), (120, "completed", "completed")
    ),
    "Direct debit 0002": _f(
        "DIRDEB", "NL87ABNA0000000002", (0, "uncleared", "initialized"), (120, "declined", "declined")
    ),
    "Direct debit 0003": _f(
        "DIRDEB",
        "NL87ABNA0000000003",
        (0, "uncleared", "initialized"),
        (120, "uncleared", "uncleared"),
        (179, "uncleared", "uncleared"),
        (180, "completed", "completed"),
    ),
    "Direct debit 0004": _f(
        "DIRDEB",
        "NL87ABNA0000000004",
        (0, "uncleared", "initialized"),
        (120, "uncleared", "uncleared"),
        (HOUR, "declined", "declined"),
    ),
    # MB WAY / Multibanco decide by amount
    **{
        f"{name} {amount}": _f(name, None, *timeline, amount=amount)
        for name in ("MBWAY", "MULTIBANCO")
        for amount, timeline in (
            (1, (DECLINED,)),
            (999, (DECLINED,)),
            (1000, (PAID,)),
            (2000, (PAID,)),
            (2001, (INIT, (84 * HOUR - 1, "initialized", "initialized"), (84 * HOUR, "expired", "expired"))),
        )
    },
    # MyBank, by bank name (looked up in GET /issuers/mybank)
    "MyBank Allianz": _f(
        "MYBANK", "Allianz Bank FA SPA", INIT, (119, "initialized", None), (120, "completed", "completed")
    ),
    "MyBank Cesena": _f("MYBANK", "Banca di Cesena", INIT, (119, "initialized", None), (120, "declined", "declined")),
    "MyBank Artigiano": _f("MYBANK", "Credito Artigiano", INIT, (119, "initialized", None), (120, "cancelled", None)),
    "MyBank Volksbank": _f(
        "MYBANK", "Volksbank – Banca Popolare", INIT, (119, "initialized", None), (120, "expired", None)
    ),
    # Bizum
    "Bizum success": _f("BIZUM", "success", PAID),
    "Bizum failure": _f("BIZUM", "failure", DECLINED),
    "Bizum cancelled": _f("BIZUM", "cancelled", DECLINED),
    # PayPal: financial status stays initialized
    "PayPal approved": _f("PAYPAL", "approved", (0, "completed", "initialized")),
    "PayPal cancelled": _f("PAYPAL", "cancelled", VOID),
    "PayPal closed": _f("PAYPAL", "closed", EXPIRED),
    # banking methods with a Completed scenario, and those where cancelling is testable
    **{f"{g} completed": _f(g, "completed", PAID) for g in ("BELFIUS", "CBC", "KBC", "DIRECTBANK", "TRUSTLY")},
    **{f"{g} completed": _f(g, "completed", PAID) for g in ("EPS", "GIROPAY", "DOTPAY", "WECHAT")},
    "Alipay completed": _f("ALIPAY", "completed", (0, "completed", "initialized")),
    "Amazon Pay completed": _f("AMAZONBTN", "completed", (0, "completed", "initialized")),
    **{
        f"{g} cancelled": _f(g, "cancelled", VOID)
        for g in ("BELFIUS", "CBC", "KBC", "EPS", "GIROPAY", "IDEAL", "DIRECTBANK", "TRUSTLY", "ALIPAY", "PAYPAL")
    },
    # buy now, pay later
    "Klarna approved": _f("KLARNA", "completed", AUTHORISED_BNPL),
    "Klarna declined in dashboard": _f("KLARNA", "void", VOID),
    "in3 approved": _f("IN3", "completed", AUTHORISED_BNPL),
    "in3 declined": _f("IN3", "declined", DECLINED),
    "Riverty approved": _f("AFTERPAY", "completed", AUTHORISED_BNPL),
    "Riverty rejected": _f("AFTERPAY", "declined", DECLINED),
    "Billink success": _f("BILLINK", "success", AUTHORISED_BNPL),
    "Billink failure": _f("BILLINK", "failure", DECLINED),
    "Billink cancelled": _f("BILLINK", "cancelled", VOID),
    "E-Invoicing": _f("EINVOICE", "uncleared", (0, "uncleared", "uncleared")),
    "E-Invoicing declined in dashboard": _f("EINVOICE", "void", VOID),
    "Pay After Delivery": _f("BNPL_MF", "uncleared", (0, "uncleared", "uncleared")),
    "Pay After Delivery declined in dashboard": _f("BNPL_MF", "void", VOID),
    # gift cards: 111115 holds 100.00, 111112 holds 5.00, 111110 nothing
    **{
        f"{g} {card} {amount}": _f(g, card, outcome, amount=amount)
        for g in ("VVVGIFTCRD", "WEBSHOPGFT", "BOEKENBON")
        for card, amount, outcome in (
            ("111115", 10000, PAID),
            ("111115", 10001, DECLINED),
            ("111112", 500, PAID),
            ("111112", 501, DECLINED),
            ("111110", 1, DECLINED),
        )
    },
    "Edenred": _f("EDENCOM", "completed", PAID),
}
# the generic card gateway knows every test card, and reports the card's own scheme
FACTS |= {
    f"CREDITCARD {name}": Fact("CREDITCARD", fact.pay_with, fact.timeline, fact.amount, fact.reason)
    for name, fact in list(FACTS.items())
    if fact.gateway in ("VISA", "MASTERCARD", "AMEX", "MAESTRO")
}


def _issuer_code(api: requests.Session, bank: str) -> str:
    issuers = api.get(f"{api.base}/issuers/mybank").json()["data"]  # type: ignore[attr-defined]
    wanted = re.sub(r"\W+", " ", bank).strip().lower()
    [code] = [i["code"] for i in issuers if re.sub(r"\W+", " ", i["description"]).strip().lower() == wanted]
    return str(code)


@pytest.mark.parametrize("name", list(FACTS))
def test_documented_scenario(sandbox: Sandbox, api: requests.Session, name: str) -> None:
    fact = FACTS[name]
    locale = "it_IT" if fact.gateway == "MYBANK" else "nl_NL"
    _create(api, "fact-1", gateway=fact.gateway, amount=fact.amount, customer={"locale": locale})
    pay_with = _issuer_code(api, fact.pay_with) if fact.gateway == "MYBANK" and fact.pay_with else fact.pay_with
    sandbox.pay("fact-1", pay_with)
    timeline = Timeline(sandbox)
    for seconds, status, financial in fact.timeline:
        timeline.at(seconds)
        order = _get(api, "fact-1")
        assert order["status"] == status, f"at {seconds} s"
        if financial is not None:
            assert order["financial_status"] == financial, f"at {seconds} s"
    if fact.reason:
        assert fact.reason in order["reason"]
    if fact.gateway == "CREDITCARD":
        assert order["payment_details"]["type"] in ("VISA", "MASTERCARD", "AMEX", "MAESTRO")
        assert order["payment_details"]["last4"] == fact.pay_with[-4:]  # type: ignore[index]


@pytest.mark.parametrize(
    ("card", "brand"),
    [("4111111111111111", "VISA"), ("5500000000000004", "MASTERCARD"), ("374500000000015", "AMEX")],
)
def test_card_number_picks_the_gateway_when_the_order_has_none(
    sandbox: Sandbox, api: requests.Session, card: str, brand: str
) -> None:
    _create(api, "any-card")
    order = sandbox.pay("any-card", card)
    assert order["payment_details"]["type"] == brand and order["status"] == "completed"


def test_mb_way_thresholds_match_the_facts() -> None:
    assert [scenario_for_amount(a) for a in (1, 999, 1000, 2000, 2001)] == [
        "declined",
        "declined",
        "completed",
        "completed",
        "expired",
    ]


def test_pspid_encoding_email_gives_a_16_digit_transaction_id(api: requests.Session) -> None:
    _create(api, "psp-16", customer={"email": "enable-pspid-encoding@multisafepay.com"})
    _create(api, "psp-9")
    assert len(str(_get(api, "psp-16")["transaction_id"])) == 16
    assert len(str(_get(api, "psp-9")["transaction_id"])) == 9


def test_bancontact_is_redirect_only(api: requests.Session) -> None:
    response = api.post(  # type: ignore[attr-defined]
        f"{api.base}/orders",
        json={
            "type": "direct",
            "gateway": "MISTERCASH",
            "order_id": "bc",
            "currency": "EUR",
            "amount": 100,
            "description": "x",
        },
    )
    code, info = _error(response)
    assert code == 1023 and info.startswith("gateway")


# -- paying by status word, on an order without a gateway ------------------------------------------
@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("completed", ("completed", "completed")),
        ("declined", ("declined", "declined")),
        ("cancelled", ("void", "void")),  # the test page's "Cancelled" scenario: iDEAL cancelled → void
        ("expired", ("expired", "expired")),
        ("uncleared", ("uncleared", "uncleared")),
    ],
)
def test_pay_by_status_word(sandbox: Sandbox, api: requests.Session, word: str, expected: tuple[str, str]) -> None:
    _create(api, "word-1")
    assert _statuses(sandbox.pay("word-1", word)) == expected
    assert _statuses(_get(api, "word-1")) == expected


def test_an_order_is_paid_only_once(sandbox: Sandbox, api: requests.Session) -> None:
    from msp_explore.errors import ValidationError

    _create(api, "once")
    sandbox.pay("once", "declined")
    with pytest.raises(ValidationError):
        sandbox.pay("once", "completed")
    assert _get(api, "once")["status"] == "declined"


# -- the hosted payment page, over HTTP ------------------------------------------------------------------
REDIRECT, CANCEL = "https://shop.example/return?step=done", "https://shop.example/cancel"


@pytest.mark.parametrize(
    ("gateway", "form", "target", "final"),
    [
        ("IDEAL", {"scenario": "success"}, REDIRECT, ("completed", "completed")),
        ("IDEAL", {"scenario": "failure"}, CANCEL, ("declined", "declined")),
        ("IDEAL", {"scenario": "cancelled"}, CANCEL, ("void", "void")),
        (
            "VISA",
            {"card_number": "4111111111111111", "expiry": "12/30", "cvc": "123", "holder": "A"},
            REDIRECT,
            ("completed", "completed"),
        ),
        (
            "VISA",
            {"card_number": "4012001037461114", "expiry": "12/30", "cvc": "123"},
            CANCEL,
            ("declined", "declined"),
        ),
        ("VISA", {"card_number": "", "scenario": "3ds-not-completed"}, CANCEL, ("expired", "expired")),
        ("BANKTRANS", {"iban": "NL87ABNA0000000001"}, REDIRECT, ("initialized", "initialized")),
        ("VVVGIFTCRD", {"card_number": "111115", "code": "1234"}, REDIRECT, ("completed", "completed")),
        ("MBWAY", {}, REDIRECT, ("completed", "completed")),
    ],
)
def test_payment_page_flow(
    api: requests.Session, gateway: str, form: dict[str, str], target: str, final: tuple[str, str]
) -> None:
    created = _create(
        api, "page-1", payment_options={"redirect_url": REDIRECT, "cancel_url": CANCEL}, customer={"locale": "nl_NL"}
    )
    page_url = created["payment_url"]
    assert page_url.endswith(f"/connect/{created['session_id']}/?lang=nl_NL")

    chooser = requests.get(page_url, timeout=5)
    assert chooser.status_code == 200
    assert f'href="?gateway={gateway}"' in chooser.text

    chosen_url = page_url.split("?")[0] + f"?gateway={gateway}"
    chosen = requests.get(chosen_url, timeout=5)
    assert chosen.status_code == 200 and 'id="pay-form"' in chosen.text
    assert f'name="gateway" value="{gateway}"' in chosen.text

    submitted = requests.post(chosen_url, data={"gateway": gateway, **form}, allow_redirects=False, timeout=5)
    assert submitted.status_code == 302
    separator = "&" if "?" in target else "?"
    assert submitted.headers["Location"] == f"{target}{separator}transactionid=page-1"

    assert _statuses(_get(api, "page-1")) == final
    after = requests.get(page_url, timeout=5)
    assert f'<span class="status" id="status">{final[0]}</span>' in after.text
    assert 'id="pay-form"' not in after.text  # no second payment


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"card_number": "999999", "code": "1234"}, "Invalid card number"),
        ({"card_number": "111115", "code": "12"}, "4-digit"),
    ],
)
def test_payment_page_rejects_bad_gift_cards(api: requests.Session, form: dict[str, str], message: str) -> None:
    created = _create(api, "gift-bad", gateway="VVVGIFTCRD")
    response = requests.post(created["payment_url"], data=form, allow_redirects=False, timeout=5)
    assert response.status_code == 400 and message in response.text
    assert _get(api, "gift-bad")["status"] == "initialized"  # still payable


def test_payment_page_for_an_unknown_session(sandbox: Sandbox) -> None:
    response = requests.get(sandbox.url.replace("/v1/json", "/connect/nope/"), timeout=5)
    assert response.status_code == 404


def test_payment_page_escapes_html(api: requests.Session) -> None:
    script, img = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"
    created = _create(api, "xss-1", description=script, customer={"first_name": img, "last_name": "</p><b>"})
    for url in (created["payment_url"], created["payment_url"].split("?")[0] + "?gateway=IDEAL"):
        html = requests.get(url, timeout=5).text
        assert script not in html and img not in html and "</p><b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert _get(api, "xss-1")["description"] == script  # stored as sent; only the page escapes


# -- payment link lifetime ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "lifetime"),
    [
        ({"seconds_active": 90}, 90),
        ({"days_active": 2}, 2 * DAY),
        ({"days_active": 2, "seconds_active": 600}, 600),  # seconds wins
        ({}, 30 * DAY),
    ],
)
def test_link_expiry(sandbox: Sandbox, api: requests.Session, fields: dict[str, int], lifetime: int) -> None:
    _create(api, "link-1", **fields)
    timeline = Timeline(sandbox)  # the link's clock starts at create
    timeline.at(lifetime - 2)
    assert _statuses(_get(api, "link-1")) == ("initialized", "initialized")
    timeline.at(lifetime + 1)
    assert _statuses(_get(api, "link-1")) == ("expired", "expired")


def test_expiry_does_not_touch_a_paid_order(sandbox: Sandbox, api: requests.Session) -> None:
    _create(api, "link-paid", seconds_active=60)
    sandbox.pay("link-paid", "completed")
    sandbox.advance(120)
    assert _statuses(_get(api, "link-paid")) == ("completed", "completed")


@pytest.mark.parametrize(
    "fields", [{"days_active": 0}, {"days_active": 366}, {"seconds_active": 0}, {"seconds_active": "60"}]
)
def test_bad_lifetimes_are_rejected(api: requests.Session, fields: dict[str, Any]) -> None:
    body = {"order_id": "bad-life", "currency": "EUR", "amount": 100, "description": "x", **fields}
    code, info = _error(api.post(f"{api.base}/orders", json=body))  # type: ignore[attr-defined]
    assert info.startswith(next(iter(fields)))


# -- manual capture --------------------------------------------------------------------------------------
@pytest.fixture
def authorised(sandbox: Sandbox, api: requests.Session) -> str:
    _create(api, "cap-1", gateway="VISA", capture="manual")
    assert _statuses(sandbox.pay("cap-1", "4111111111111111")) == ("completed", "initialized")
    return "cap-1"


def _capture(api: requests.Session, order_id: str, amount: int, **extra: Any) -> requests.Response:
    body = {"amount": amount, "new_order_status": "completed", **extra}
    return api.post(f"{api.base}/orders/{order_id}/capture", json=body)  # type: ignore[attr-defined,no-any-return]


def test_full_capture(api: requests.Session, authorised: str) -> None:
    response = _capture(api, authorised, 1000, reason="shipped")
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) >= {"transaction_id", "order_id"}
    order = _get(api, authorised)
    assert _statuses(order) == ("completed", "completed")
    assert [t["type"] for t in order["related_transactions"]] == ["capture"]


def test_partial_captures(api: requests.Session, authorised: str) -> None:
    first = _capture(api, authorised, 400).json()["data"]
    assert _statuses(_get(api, authorised)) == ("completed", "initialized")  # the original keeps its statuses
    txn = api.get(f"{api.base}/transactions/{first['transaction_id']}").json()["data"]  # type: ignore[attr-defined]
    assert (txn["status"], txn["financial_status"], txn["amount"]) == ("completed", "completed", 400)

    code, info = _error(_capture(api, authorised, 601))
    assert code == 1001 and info.startswith("amount")
    second = _capture(api, authorised, 600).json()["data"]
    assert second["order_id"] != first["order_id"]  # each capture is its own transaction / order id
    assert second["transaction_id"] != first["transaction_id"]
    assert _statuses(_get(api, authorised)) == ("completed", "completed")


def test_capture_with_a_new_order_id(api: requests.Session, authorised: str) -> None:
    data = _capture(api, authorised, 250, new_order_id="cap-1-part").json()["data"]
    assert data["order_id"] == "cap-1-part"


def test_cancel_authorisation(api: requests.Session, authorised: str) -> None:
    response = api.patch(  # type: ignore[attr-defined]
        f"{api.base}/capture/{authorised}", json={"status": "cancelled", "reason": "out of stock"}
    )
    assert response.status_code == 200
    assert set(response.json()["data"]) >= {"transaction_id", "order_id", "success"}
    assert _statuses(_get(api, authorised)) == ("void", "void")
    _error(_capture(api, authorised, 1000))  # nothing left to capture


def test_cancel_authorisation_needs_a_reason(api: requests.Session, authorised: str) -> None:
    response = api.patch(f"{api.base}/capture/{authorised}", json={"status": "cancelled"})  # type: ignore[attr-defined]
    _error(response)
    assert _statuses(_get(api, authorised)) == ("completed", "initialized")


def test_capture_needs_a_manual_capture_order(sandbox: Sandbox, api: requests.Session) -> None:
    _create(api, "auto", gateway="VISA")
    sandbox.pay("auto", "4111111111111111")
    _error(_capture(api, "auto", 1000))


# -- refunds ---------------------------------------------------------------------------------------------
@pytest.fixture
def paid(sandbox: Sandbox, api: requests.Session) -> str:
    _create(api, "ref-1", gateway="IDEAL")
    sandbox.pay("ref-1", "success")
    return "ref-1"


def _refund(api: requests.Session, order_id: str, **body: Any) -> requests.Response:
    return api.post(f"{api.base}/orders/{order_id}/refunds", json={"currency": "EUR", **body})  # type: ignore[attr-defined,no-any-return]


def test_full_refund(api: requests.Session, paid: str) -> None:
    response = _refund(api, paid, description="all of it")
    assert response.status_code == 200
    assert set(response.json()["data"]) >= {"transaction_id", "refund_id"}
    order = _get(api, paid)
    assert _statuses(order) == ("refunded", "completed")
    assert order["amount_refunded"] == 1000
    [related] = order["related_transactions"]
    assert related["type"] == "refund" and related["amount"] == 1000
    assert any(c["type"] == "withdraw" for c in order["costs"])
    code, _ = _error(_refund(api, paid, amount=1))  # nothing left to refund
    assert code == 1034


def test_partial_refunds_and_over_refund(sandbox: Sandbox, api: requests.Session, paid: str) -> None:
    assert _refund(api, paid, amount=300).status_code == 200
    order = _get(api, paid)
    assert (order["status"], order["amount_refunded"]) == ("partial_refunded", 300)

    code, info = _error(_refund(api, paid, amount=701))
    assert code == 1034 and info.startswith("amount")
    code, _ = _error(_refund(api, paid, amount=300))  # same amount again within 5 minutes
    assert code == 1034
    sandbox.advance(5 * MIN)
    assert _refund(api, paid, amount=300).status_code == 200
    assert _refund(api, paid, amount=400).status_code == 200
    order = _get(api, paid)
    assert (order["status"], order["amount_refunded"]) == ("refunded", 1000)


def test_cancel_a_reserved_refund(api: requests.Session, paid: str) -> None:
    refund_id = _refund(api, paid, amount=300).json()["data"]["refund_id"]
    url = f"{api.base}/orders/{paid}/refunds/{refund_id}"  # type: ignore[attr-defined]
    assert api.patch(url, json={"status": "void"}).status_code == 200
    order = _get(api, paid)
    assert (order["status"], order["amount_refunded"]) == ("completed", 0)
    assert order["related_transactions"][0]["status"] == "void"
    code, _ = _error(api.patch(url, json={"status": "void"}))  # already void
    assert code == 1034
    assert _refund(api, paid, amount=300).status_code == 200  # a voided refund does not block the amount


@pytest.mark.parametrize(
    ("setup", "body"),
    [
        ("initialized", {"amount": 100}),
        ("declined", {"amount": 100}),
        ("completed", {"amount": 100, "currency": "USD"}),
    ],
)
def test_refunds_that_cannot_happen(sandbox: Sandbox, api: requests.Session, setup: str, body: dict[str, Any]) -> None:
    _create(api, "no-ref", gateway="IDEAL")
    if setup != "initialized":
        sandbox.pay("no-ref", setup)
    code, _ = _error(_refund(api, "no-ref", **body))
    assert code in (1034, 1002)
    assert _get(api, "no-ref")["amount_refunded"] == 0


# -- update, ship, cancel --------------------------------------------------------------------------------
def test_patch_cancel(api: requests.Session) -> None:
    _create(api, "upd-1")
    response = api.patch(f"{api.base}/orders/upd-1", json={"status": "cancelled", "exclude_order": True})  # type: ignore[attr-defined]
    assert response.status_code == 200 and response.json() == {"success": True, "data": {}}
    assert _statuses(_get(api, "upd-1")) == ("cancelled", "cancelled")


def test_patch_cancel_of_a_paid_order_fails(sandbox: Sandbox, api: requests.Session) -> None:
    _create(api, "upd-2")
    sandbox.pay("upd-2", "completed")
    _error(api.patch(f"{api.base}/orders/upd-2", json={"status": "cancelled"}))  # type: ignore[attr-defined]
    assert _get(api, "upd-2")["status"] == "completed"


def test_patch_unknown_order_is_410(api: requests.Session) -> None:
    code, _ = _error(api.patch(f"{api.base}/orders/nope", json={"status": "cancelled"}), 410)  # type: ignore[attr-defined]
    assert code == 1000


def test_ship_klarna(sandbox: Sandbox, api: requests.Session) -> None:
    _create(api, "ship-1", gateway="KLARNA")
    assert _statuses(sandbox.pay("ship-1", "completed")) == ("completed", "uncleared")
    ship = {"status": "shipped", "tracktrace_code": "3SABCD1234", "carrier": "PostNL", "ship_date": "2026-01-02"}
    response = api.patch(f"{api.base}/orders/ship-1", json=ship)  # type: ignore[attr-defined]
    assert response.status_code == 200 and response.json()["data"] == {}
    assert _statuses(_get(api, "ship-1")) == ("shipped", "completed")


def test_ship_an_unpaid_order_fails(api: requests.Session) -> None:
    _create(api, "ship-2", gateway="KLARNA")
    _error(api.patch(f"{api.base}/orders/ship-2", json={"status": "shipped"}))  # type: ignore[attr-defined]


def test_post_cancel(sandbox: Sandbox, api: requests.Session) -> None:
    _create(api, "qr-1", gateway="MISTERCASH", gateway_info={"qr_enabled": True})
    response = api.post(f"{api.base}/orders/qr-1/cancel")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert _statuses(_get(api, "qr-1")) == ("cancelled", "cancelled")
    _error(api.post(f"{api.base}/orders/qr-1/cancel"))  # type: ignore[attr-defined]
    code, _ = _error(api.post(f"{api.base}/orders/nope/cancel"), 404)  # type: ignore[attr-defined]
    assert code == 1006


# -- determinism -------------------------------------------------------------------------------------------
def _script(sandbox: Sandbox, hook: str) -> dict[str, Any]:
    """The same calls, against a fresh sandbox; returns everything observable that should repeat."""
    root = sandbox.url.removesuffix("/v1/json")
    session = requests.Session()
    session.headers["api_key"] = sandbox.api_key
    base = sandbox.url
    created = []
    for n, gateway in enumerate(["IDEAL", "VISA", "BANKTRANS", "KLARNA", None]):
        body = {
            "order_id": f"det-{n}",
            "currency": "EUR",
            "amount": 1000 + n,
            "description": f"Déterminisme {n}",
            "payment_options": {"notification_url": hook},
        } | ({"gateway": gateway} if gateway else {})
        created.append(session.post(f"{base}/orders", json=body).text.replace(root, "ROOT"))
    sandbox.pay("det-0", "success")
    sandbox.pay("det-1", "4462000000000003")
    sandbox.pay("det-2", "NL87ABNA0000000001")
    sandbox.pay("det-3", "completed")
    sandbox.advance(200)
    session.post(f"{base}/orders/det-0/refunds", json={"currency": "EUR", "amount": 100})
    session.patch(f"{base}/orders/det-3", json={"status": "shipped"})
    sandbox.advance(31 * DAY)  # det-4's link expires
    return {
        "created": created,
        "orders": [session.get(f"{base}/orders/det-{n}").text for n in range(5)],
        "transactions": session.get(f"{base}/transactions").text.replace(root, "ROOT"),
        "deliveries": sandbox.deliveries,
    }


def test_seeded_sandboxes_repeat_exactly() -> None:
    runs = []
    with Receiver() as receiver:
        for _ in range(2):
            receiver.clear()
            with Sandbox(seed=7, sync_notifications=True) as sandbox:
                observed = _script(sandbox, receiver.url_for("/hook"))
            # What goes on the wire for a receiver's own clock (timestamp, Auth) is the real time of sending,
            # so it is left out; everything the sandbox decides repeats.
            observed["received"] = [(c.args["transactionid"], c.path, c.body) for c in receiver.requests]
            stamps = [int(c.args["timestamp"]) for c in receiver.requests]
            assert all(abs(stamp - time.time()) < 120 for stamp in stamps)
            observed["deliveries"] = [
                {k: v for k, v in d.items() if k not in ("timestamp", "url")} for d in observed["deliveries"]
            ]
            runs.append(observed)
    first, second = runs
    assert first == second
    assert len(first["received"]) >= 8 and all(d["acknowledged"] for d in first["deliveries"])
    assert json.loads(first["orders"][4])["data"]["status"] == "expired"
