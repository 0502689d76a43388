"""The sandbox's hosted payment page in a real browser: every method and test scenario, paid as a person would.

Each test creates a redirect order over HTTP, opens its ``payment_url`` in Chromium, picks or types the
scenario, presses the button, and checks where the browser lands (the shop's redirect or cancel page),
the order as GET returns it, and the signed webhook the shop receives. One browser and one context
serve the module; each test opens its own page (tab). Screenshots go to build/screenshots/pay-*.png.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import _browser
import pytest
import requests
from _browser import clear_screenshots, launched, local_context, screenshot
from _receiver import Receiver, Recorded
from conftest import TUTORIAL_ORDER
from playwright.sync_api import Browser, BrowserContext, Dialog, Locator, Page, expect

from msp_explore.sandbox import Sandbox
from msp_explore.sandbox.catalog import GATEWAYS, GIFTCARD_BALANCE, Gateway, Scenario, listed_gateways
from msp_explore.sandbox.catalog import scenario_for_amount as outcome_for_amount
from msp_explore.webhooks import verify_notification

# Where the payment page sends the payer: statuses that mean "not paid" go to cancel_url.
NOT_PAID = ("declined", "void", "expired", "cancelled")
# MB WAY and Multibanco decide the outcome by amount (cents), not by anything the payer picks.
AMOUNT_FOR = {"declined": 500, "completed": 1500, "expired": 2500}
OTHER_IBAN = "NL02 ABNA 0123 4567 89"  # a valid-looking IBAN that is none of the listed test IBANs
HOLDER = "Jan Tester"

CASES = [
    pytest.param(gateway, scenario, id=f"{gateway.id}-{scenario.key}")
    for gateway in GATEWAYS.values()
    for scenario in (*gateway.scenarios, *filter(None, [gateway.fallback]))
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    clear_screenshots("pay-")
    with launched() as browser:
        yield browser


@pytest.fixture(scope="module")
def context(browser: Browser, shop_server: Receiver) -> Iterator[BrowserContext]:
    context = local_context(browser)
    # A tab kept open on this machine's site: each test's new tab reuses its renderer process instead
    # of starting one, which halves the time a test takes.
    context.new_page().goto(shop_server.url_for("/"))
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A new tab per test; the payment page must load nothing from outside this machine."""
    outside: list[str] = context.outside  # type: ignore[attr-defined]
    before = len(outside)
    page = context.new_page()
    yield page
    page.close()
    assert outside[before:] == []


@pytest.fixture(scope="module")
def shop_server() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def shop(shop_server: Receiver) -> Receiver:
    """The shop: its return and cancel pages and its webhook endpoint, recording every request."""
    shop_server.clear()
    return shop_server


def create_order(api: requests.Session, shop: Receiver, order_id: str, **fields: Any) -> dict[str, Any]:
    order = {**TUTORIAL_ORDER, "order_id": order_id, **fields}
    order["payment_options"] = {
        "notification_url": shop.url_for("/webhook"),
        "notification_method": "POST",
        "redirect_url": shop.url_for("/return?type=redirect"),
        "cancel_url": shop.url_for("/cancel?type=cancel"),
    }
    response = api.post(f"{api.base}/orders", json=order)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    return {**response.json()["data"], **order}


def get_order(api: requests.Session, order_id: str) -> dict[str, Any]:
    response = api.get(f"{api.base}/orders/{order_id}")  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def webhooks(shop: Receiver, since: int = 0) -> list[Recorded]:
    return [r for r in shop.requests[since:] if r.method == "POST" and r.path == "/webhook"]


def check_signed(notes: list[Recorded], sandbox: Sandbox, order_id: str) -> dict[str, Any]:
    """Every notification names the order and verifies on this machine's clock; return the last body."""
    assert notes, "no webhook arrived"
    for note in notes:
        assert note.args["transactionid"] == order_id
        verify_notification(note.body, note.headers.get("Auth"), sandbox.api_key)
    return json.loads(notes[-1].body)  # type: ignore[no-any-return]


def expected(gateway: Gateway, scenario: Scenario, amount: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """(status, financial_status) right after paying, and in the end."""
    first, last = scenario.steps[0][1:], scenario.steps[-1][1:]
    if gateway.form == "giftcard" and GIFTCARD_BALANCE[scenario.key] < amount:
        first = last = ("declined", "declined")  # the card's balance does not cover the order
    return first, last


def fill_in(page: Page, gateway: Gateway, scenario: Scenario) -> Locator:
    """Fill in the method's form as a payer would, from what the page shows; return the button to press."""
    form = page.locator("#pay-form")
    listed = [s.key for s in gateway.scenarios if s.key.isdigit() or gateway.form != "card"]
    if gateway.form in ("card", "iban", "giftcard"):  # the page lists exactly the test cards or IBANs
        expect(form.locator("ul.hints code")).to_have_text(listed)
    if gateway.form == "choice":
        radio = form.locator(f"input[name=scenario][value='{scenario.key}']")
        form.locator(f"label:has(input[name=scenario][value='{scenario.key}'])").click()  # its text, not the radio
        expect(radio).to_be_checked()
    elif gateway.form == "card":
        card = scenario.key if scenario.key.isdigit() else listed[0]  # a card, then leave 3-D Secure unfinished
        page.get_by_label("Card number").fill(card)
        page.get_by_label("Expiry (MM/YY)").fill("11/29")
        page.get_by_label("CVC").fill("737")
        page.get_by_label("Card holder").fill(HOLDER)
        if scenario.key == "3ds-not-completed":
            return form.locator("#abandon")
    elif gateway.form == "iban":
        if scenario is gateway.fallback:
            iban = OTHER_IBAN
        else:
            iban = " ".join(scenario.key[i : i + 4] for i in range(0, len(scenario.key), 4))  # as printed
        page.get_by_label("IBAN").fill(iban)
    elif gateway.form == "giftcard":
        page.get_by_label("Card number").fill(scenario.key)
        page.get_by_label("Security code").fill("4321")
    elif gateway.form == "amount":
        expect(form.locator("ul.hints")).to_contain_text(scenario.label)
    else:  # a new kind of form needs a new way to fill it in
        raise AssertionError(f"no way to fill in a {gateway.form!r} form")
    return form.locator("#submit")


def assert_typed_details_kept(details: dict[str, Any], gateway: Gateway, scenario: Scenario) -> None:
    """What the payer typed is what the order reports."""
    if gateway.form == "card":
        assert (details["account_holder_name"], details["card_expiry_date"]) == (HOLDER, "2911")
        if scenario.key.isdigit():
            assert details["last4"] == scenario.key[-4:]
    elif gateway.form == "iban":
        typed = OTHER_IBAN if scenario is gateway.fallback else scenario.key
        assert details["account_iban"] == typed.replace(" ", "")
    elif gateway.form == "giftcard":
        assert details["account_id"] == scenario.key


@pytest.mark.parametrize(("gateway", "scenario"), CASES)
def test_pay_every_method_and_scenario(
    page: Page, sandbox: Sandbox, api: requests.Session, shop: Receiver, gateway: Gateway, scenario: Scenario
) -> None:
    amount = AMOUNT_FOR[scenario.key] if gateway.form == "amount" else 1000
    if gateway.form == "amount":
        assert outcome_for_amount(amount) == scenario.key
    order_id = f"browser-{gateway.id}-{scenario.key}"
    order = create_order(api, shop, order_id, gateway=gateway.id, amount=amount, description=scenario.label)
    (first, first_financial), (last, last_financial) = expected(gateway, scenario, amount)
    name = f"pay-{gateway.id}-{scenario.key}"

    page.goto(order["payment_url"])
    expect(page.locator("#method")).to_have_text(gateway.description)
    expect(page.locator("#other-method")).to_have_count(0)  # the order was created for this method
    button = fill_in(page, gateway, scenario)
    screenshot(page, f"{name}-1-form")
    button.click()

    back = order["payment_options"]["cancel_url" if first in NOT_PAID else "redirect_url"]
    page.wait_for_url(f"{back}&transactionid={order_id}")
    expect(page.locator("body")).to_have_text("OK")  # the shop's page
    landed = [r for r in shop.requests if r.method == "GET"]
    assert [(r.path, r.args["transactionid"]) for r in landed] == [(urlsplit(back).path, order_id)]
    paid = get_order(api, order_id)
    assert (paid["status"], paid["financial_status"]) == (first, first_financial)
    assert_typed_details_kept(paid["payment_details"], gateway, scenario)
    note = check_signed(webhooks(shop), sandbox, order_id)
    assert (note["status"], note["financial_status"]) == (first, first_financial)

    delay = max(step[0] for step in scenario.steps)
    if delay:  # the outcome arrives later: move the sandbox's clock past it
        seen = len(shop.requests)
        sandbox.advance(delay + 1)
        later = get_order(api, order_id)
        assert (later["status"], later["financial_status"]) == (last, last_financial)
        note = check_signed(webhooks(shop, seen), sandbox, order_id)
        assert (note["status"], note["financial_status"]) == (last, last_financial)
    else:
        assert (first, first_financial) == (last, last_financial)

    page.goto(order["payment_url"])  # the link now shows where the order stands, and no form
    expect(page.locator("#status")).to_have_text(last)
    expect(page.locator("#financial-status")).to_have_text(last_financial)
    expect(page.locator("#pay-form")).to_have_count(0)
    screenshot(page, f"{name}-2-after")


def test_pick_the_method_on_the_page_then_pay(
    page: Page, sandbox: Sandbox, api: requests.Session, shop: Receiver
) -> None:
    order = create_order(api, shop, "browser-choose", gateway="")
    page.goto(order["payment_url"])
    offered = page.locator("ul.methods a")
    expect(offered).to_have_count(len(listed_gateways(include_coupons=True)))
    ids = [link.get_attribute("id") for link in offered.all()]
    assert ids == [f"method-{g['id']}" for g in listed_gateways(include_coupons=True)]
    screenshot(page, "pay-choose-1-methods")

    page.get_by_role("link", name="Visa", exact=True).click()  # change of mind: back to the list
    expect(page.locator("#method")).to_have_text("Visa")
    page.get_by_role("link", name="Choose another method").click()
    page.get_by_role("link", name="iDEAL", exact=True).click()
    expect(page.locator("#method")).to_have_text("iDEAL")
    page.locator("label:has(input[value=success])").click()
    screenshot(page, "pay-choose-2-ideal")
    page.get_by_role("button", name="Test").click()

    page.wait_for_url(f"{order['payment_options']['redirect_url']}&transactionid=browser-choose")
    paid = get_order(api, "browser-choose")
    assert (paid["status"], paid["payment_details"]["type"]) == ("completed", "IDEAL")
    note = check_signed(webhooks(shop), sandbox, "browser-choose")
    assert (note["status"], note["payment_details"]["type"]) == ("completed", "IDEAL")
    page.goto(order["payment_url"])
    expect(page.locator("#status")).to_have_text("completed")
    screenshot(page, "pay-choose-3-after")


# -- hostile order data ------------------------------------------------------------------------------
HOSTILE = {
    "description": "<script>document.title='pwned';alert('description')</script>",
    "first_name": "<img src=x onerror=alert('first_name')>",
    "last_name": "\"><svg onload=alert('last_name')>",
}
INJECTED = "img[src=x], svg, [onerror], [onload]"


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Every alert/confirm/prompt the page opens (none should)."""
    opened: list[str] = []

    def record(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return opened


def assert_inert(page: Page, scripts: int) -> None:
    assert page.locator(INJECTED).count() == 0
    assert page.locator("script").count() == scripts  # the page's own scripts, nothing more
    assert page.title() != "pwned"


def test_hostile_order_data_is_shown_as_text(
    page: Page, dialogs: list[str], api: requests.Session, shop: Receiver
) -> None:
    plain = create_order(api, shop, "browser-plain", gateway="")
    page.goto(plain["payment_url"])
    scripts = page.locator("script").count()

    customer = {**TUTORIAL_ORDER["customer"], "first_name": HOSTILE["first_name"], "last_name": HOSTILE["last_name"]}  # type: ignore[dict-item]
    order = create_order(
        api, shop, "browser-hostile", gateway="", description=HOSTILE["description"], customer=customer
    )
    page.goto(order["payment_url"])  # the method list
    expect(page.locator("#description")).to_have_text(HOSTILE["description"])
    expect(page.locator("#customer")).to_have_text(f"{HOSTILE['first_name']} {HOSTILE['last_name']}")
    assert_inert(page, scripts)
    screenshot(page, "pay-hostile-1-methods")

    page.get_by_role("link", name="Bank transfer", exact=True).click()  # a method's form
    expect(page.locator("#description")).to_have_text(HOSTILE["description"])
    assert_inert(page, scripts)
    page.get_by_label("IBAN").fill(HOSTILE["first_name"])  # typed input comes back in the error message
    page.get_by_role("button", name="Pay").click()
    expect(page.locator("#error")).to_contain_text(HOSTILE["first_name"])
    expect(page.locator("#description")).to_have_text(HOSTILE["description"])
    assert_inert(page, scripts)
    screenshot(page, "pay-hostile-2-error")

    page.get_by_label("IBAN").fill("NL87ABNA0000000001")  # still payable: the bad input changed nothing
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(f"{order['payment_options']['redirect_url']}&transactionid=browser-hostile")
    page.goto(order["payment_url"])  # the result page
    expect(page.locator("#status")).to_have_text("initialized")
    expect(page.locator("#customer")).to_have_text(f"{HOSTILE['first_name']} {HOSTILE['last_name']}")
    assert_inert(page, scripts)
    screenshot(page, "pay-hostile-3-after")
    assert dialogs == []


# -- without Chromium -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ci", ["", "true"])
def test_without_chromium_browser_tests_skip_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setattr(_browser.os, "access", lambda path, mode: False)
    monkeypatch.setattr(_browser.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", ci)
    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(outcome, match=r"apt-get install chromium"):
        _browser.chromium_path()
