"""The notebook widgets, driven as a user would: set ``.value``, ``.click()``, read what they show.

Nothing is mocked: every widget talks to a real sandbox, and notifications come over HTTP into a real
WebhookReceiver. Results are read from the widgets' ``HTML.value`` (no kernel is needed for that).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import ipywidgets as w
import pytest
import requests

from msp_explore import widgets
from msp_explore.client import Client
from msp_explore.journal import Journal
from msp_explore.receiver import WebhookReceiver
from msp_explore.sandbox import Sandbox
from msp_explore.tutorial import tutorial_order

SECRET = "KEY-SECRET-123456789"


@pytest.fixture
def receiver(client: Client) -> Iterator[WebhookReceiver]:
    with Journal(":memory:") as journal, WebhookReceiver(client=client, journal=journal) as receiver:
        yield receiver


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def get(api: requests.Session, order_id: str) -> requests.Response:
    return api.get(f"{api.base}/orders/{order_id}")  # type: ignore[attr-defined]


def create(client: Client, order_id: str, notification_url: str | None = None) -> dict[str, Any]:
    order = tutorial_order(order_id=order_id)
    if notification_url is not None:
        order["payment_options"]["notification_url"] = notification_url  # type: ignore[index]
    return client.create_order(order)


def descendants(root: w.Widget) -> list[w.Widget]:
    """Every widget reachable from ``root``: through its synced traits and the parts set as attributes."""
    found: dict[str, w.Widget] = {}
    stack = [root]
    while stack:
        widget = stack.pop()
        if widget.model_id in found:
            continue
        found[widget.model_id] = widget
        values = [getattr(widget, name) for name in widget.keys] + list(vars(widget).values())
        for value in values:
            items = value if isinstance(value, list | tuple) else [value]
            stack.extend(item for item in items if isinstance(item, w.Widget))
    return list(found.values())


# -- order_form ---------------------------------------------------------------------------------------
def test_order_form_is_prefilled_from_the_tutorial(client: Client, api: requests.Session) -> None:
    form = widgets.order_form(client)
    values = {name: getattr(form, name).value for name in ("order_id", "type", "gateway", "amount", "currency")}
    assert values == {"order_id": "my-order-id-1", "type": "redirect", "gateway": "", "amount": 1000, "currency": "EUR"}
    assert (form.first_name.value, form.last_name.value, form.email.value) == ("John", "Doe", "jdoe@example.com")
    assert form.description.value == "Test order description"
    assert form.result.value == "" and form.created is None

    offered = api.get(f"{api.base}/gateways").json()["data"]  # type: ignore[attr-defined]
    labels, ids = zip(*form.gateway.options, strict=True)
    assert labels[0] == "choose on the payment page"
    assert list(ids) == ["", *(gateway["id"] for gateway in offered)]
    assert "iDEAL (IDEAL)" in labels
    # wide enough for the longest label beside its 110px description (the default 300px cut them off)
    assert form.gateway.layout.width == "480px" and form.order_id.layout.width == "480px"


def test_order_form_order_id_can_be_given(client: Client) -> None:
    assert widgets.order_form(client, order_id="shop-42").order_id.value == "shop-42"


def test_submitting_creates_the_order_and_shows_its_card(client: Client, api: requests.Session) -> None:
    created: list[dict[str, Any]] = []
    form = widgets.order_form(client, on_created=created.append)
    form.submit.click()

    response = get(api, "my-order-id-1")
    assert response.status_code == 200
    order = response.json()["data"]
    assert (order["amount"], order["currency"], order["status"]) == (1000, "EUR", "initialized")
    assert order["customer"]["email"] == "jdoe@example.com" and order["customer"]["last_name"] == "Doe"

    assert created == [form.created] and form.created["order_id"] == "my-order-id-1"
    assert set(form.created) == {"order_id", "payment_url", "session_id"}  # what the API answered, as it did
    url = form.created["payment_url"]
    card = form.result.value
    assert 'class="msp-order"' in card
    assert f'<a href="{url}" target="_blank"' in card and "color:#0969da" in card  # a link that looks like one
    # a redirect order's answer has neither amount nor status: the card shows the order as it now is
    assert "EUR 10.00" in card and ">initialized</span>" in card and "Test order description" in card


def test_after_each_order_the_form_proposes_the_next_free_order_id(client: Client, api: requests.Session) -> None:
    create(client, "my-order-id-2")  # taken already, by someone else
    form = widgets.order_form(client)
    form.submit.click()
    assert form.order_id.value == "my-order-id-3"
    form.submit.click()  # a second press makes a second order
    assert form.created["order_id"] == "my-order-id-3" and 'class="msp-order"' in form.result.value
    assert get(api, "my-order-id-3").status_code == 200
    assert form.order_id.value == "my-order-id-4"


@pytest.mark.parametrize(
    ("order_id", "after"),
    [("my-order-id-9", "my-order-id-10"), ("shop-007", "shop-008"), ("shop", "shop-2"), ("99", "100")],
)
def test_next_order_id(order_id: str, after: str) -> None:
    assert widgets.next_order_id(order_id) == after


def test_submitting_sends_the_edited_values(client: Client, api: requests.Session) -> None:
    form = widgets.order_form(client)
    form.order_id.value = "edited-1"
    form.type.value = "direct"
    form.gateway.value = "IDEAL"
    form.amount.value = 2500
    form.currency.value = "USD"
    form.first_name.value = "Jane"
    form.email.value = "jane@example.com"
    form.submit.click()

    order = get(api, "edited-1").json()["data"]
    assert (order["amount"], order["currency"], order["payment_details"]["type"]) == (2500, "USD", "IDEAL")
    assert (order["customer"]["first_name"], order["customer"]["email"]) == ("Jane", "jane@example.com")
    assert order["customer"]["city"] == "Amsterdam"  # the rest of the tutorial's customer is kept
    # a direct order comes back whole, so the card shows its status and amount
    assert ">initialized</span>" in form.result.value and "USD 25.00" in form.result.value
    assert form.order_id.value == "edited-2"


def test_a_duplicate_order_id_is_shown_inline(client: Client) -> None:
    created: list[dict[str, Any]] = []
    form = widgets.order_form(client, on_created=created.append)
    form.submit.click()
    first = form.result.value
    form.order_id.value = "my-order-id-1"  # typed in again, by hand
    form.submit.click()  # does not raise

    assert 'class="msp-error"' in form.result.value and "1006" in form.result.value
    assert "already in use" in form.result.value
    assert form.result.value != first
    assert len(created) == 1
    assert form.order_id.value == "my-order-id-1"  # a failure leaves the field as it was


def test_a_bad_amount_is_shown_inline_naming_the_field(client: Client, api: requests.Session) -> None:
    created: list[dict[str, Any]] = []
    form = widgets.order_form(client, on_created=created.append)
    form.amount.value = 0
    form.submit.click()

    assert 'class="msp-error"' in form.result.value
    assert "ApiError" in form.result.value and "amount: " in form.result.value  # the API's rule, named
    assert created == [] and form.created is None
    assert get(api, "my-order-id-1").status_code == 404  # nothing was made


def test_the_card_escapes_a_hostile_description(client: Client) -> None:
    form = widgets.order_form(client, order_id="<b>bold</b>")
    form.type.value = "direct"  # a direct order comes back whole, description included
    form.gateway.value = "IDEAL"
    form.description.value = "<script>alert('x')</script> & <img src=x onerror=alert(1)>"
    form.submit.click()

    html = form.result.value
    assert 'class="msp-order"' in html
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;img" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>" not in form._repr_mimebundle_()["text/html"]


def test_the_form_reads_well_where_widgets_cannot_be_drawn(client: Client) -> None:
    form = widgets.order_form(client, order_id="my-order-id-3")
    form.amount.value = 2500
    bundle = form._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.model_id  # live: the widget
    assert bundle["text/plain"] == "<OrderForm: order form: order_id my-order-id-3, redirect, 2500 cents>"
    html = bundle["text/html"]  # opened before running, or untrusted: the form as a table of its values
    assert 'class="msp-form"' in html and ">my-order-id-3</td>" in html and ">2500</td>" in html
    form.submit.click()
    assert "created my-order-id-3" in repr(form) and 'class="msp-order"' in form._repr_mimebundle_()["text/html"]


# -- payment_panel -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("button", "status"),
    # the tutorial's order has no gateway: the sandbox pays it with iDEAL, where cancelling ends in void
    [
        ("completed", "completed"),
        ("declined", "declined"),
        ("cancelled", "void"),
        ("expired", "expired"),
        ("uncleared", "uncleared"),
    ],
)
def test_each_outcome_button_pays_the_order_that_way(
    client: Client, api: requests.Session, button: str, status: str
) -> None:
    created = create(client, "my-order-id-1")
    panel = widgets.payment_panel(client, "my-order-id-1", created["payment_url"])
    assert [b.description for b in panel.buttons] == [f"pay: {outcome}" for outcome in widgets.OUTCOMES]
    assert not any(b.disabled for b in panel.buttons)

    next(b for b in panel.buttons if b.description == f"pay: {button}").click()

    assert get(api, "my-order-id-1").json()["data"]["status"] == status
    assert 'class="msp-order"' in panel.result.value and f">{status}</span>" in panel.result.value
    # the sandbox takes one payment per order: every button is off, and the note says why
    assert all(b.disabled for b in panel.buttons) and panel.closed
    assert f"my-order-id-1 is {status}" in panel.note.value
    final = status != "uncleared"
    assert ("final: nothing is left to pay" in panel.note.value) is final


def test_the_panel_shows_the_order_and_its_payment_link(client: Client) -> None:
    created = create(client, "my-order-id-1")
    panel = widgets.payment_panel(client, "my-order-id-1", created["payment_url"])
    assert f'<a href="{created["payment_url"]}"' in panel.link.value
    # the order as it is, not only its ID: amount, description and status badge
    assert "EUR 10.00" in panel.link.value and ">initialized</span>" in panel.link.value
    assert "(on this machine: open while the notebook" in panel.link.value  # the sandbox's page lives with the kernel
    assert panel.result.value == "" and panel.note.value == ""
    assert panel.children[1].children == tuple(panel.buttons)
    assert repr(panel) == "<PaymentPanel: payment panel for my-order-id-1: 5 outcome buttons>"
    assert "[pay: completed] [pay: declined]" in panel._repr_mimebundle_()["text/html"]


def test_a_click_after_paying_changes_nothing(client: Client, api: requests.Session) -> None:
    created = create(client, "my-order-id-1")
    panel = widgets.payment_panel(client, "my-order-id-1", created["payment_url"])
    completed, declined = panel.buttons[:2]
    completed.click()
    shown = panel.result.value
    declined.click()  # from code, a disabled button's handler still runs: it must not pay again

    assert panel.result.value == shown and 'class="msp-error"' not in shown
    assert get(api, "my-order-id-1").json()["data"]["status"] == "completed"


def test_a_panel_for_a_paid_order_starts_closed(client: Client, sandbox: Sandbox) -> None:
    create(client, "my-order-id-1")
    sandbox.pay("my-order-id-1", "declined")
    panel = widgets.payment_panel(client, "my-order-id-1")
    assert all(b.disabled for b in panel.buttons) and "my-order-id-1 is declined, final" in panel.note.value


def test_the_panel_closes_when_the_tracker_hears_of_a_payment(
    client: Client, receiver: WebhookReceiver, sandbox: Sandbox
) -> None:
    create(client, "my-order-id-1", receiver.url)
    tracker = widgets.status_tracker("my-order-id-1", receiver=receiver, client=client)
    panel = widgets.payment_panel(client, "my-order-id-1", tracker=tracker)
    sandbox.pay("my-order-id-1", "completed")  # on the payment page, say: not through the panel

    assert all(b.disabled for b in panel.buttons)
    assert "my-order-id-1 is completed, final" in panel.note.value
    assert panel.link.value.count(">completed</span>") == 2 and ">initialized<" not in panel.link.value


def test_a_panel_click_brings_the_tracker_timeline_up_to_date(client: Client, receiver: WebhookReceiver) -> None:
    create(client, "my-order-id-1", receiver.url)
    tracker = widgets.status_tracker("my-order-id-1", receiver=receiver, client=client)
    panel = widgets.payment_panel(client, "my-order-id-1", tracker=tracker)
    panel.buttons[1].click()
    assert len(tracker.deliveries) == 1 and "#1 attempt 1" in tracker.timeline.value


def test_without_a_sandbox_the_panel_only_shows_the_link(sandbox: Sandbox) -> None:
    with Client(sandbox.api_key, base_url=sandbox.url, controls=False) as client:  # as on the real test API
        assert client.sandbox is None
        created = create(client, "my-order-id-1")
        panel = widgets.payment_panel(client, "my-order-id-1", created["payment_url"])
    assert panel.buttons == [] and panel.children[1].children == ()
    assert f'<a href="{created["payment_url"]}"' in panel.link.value


def test_without_a_payment_url_the_panel_has_no_link(client: Client) -> None:
    create(client, "my-order-id-1")
    panel = widgets.payment_panel(client, "my-order-id-1")
    assert "<a " not in panel.link.value and "my-order-id-1" in panel.link.value
    assert len(panel.buttons) == len(widgets.OUTCOMES)


# -- notification_feed ---------------------------------------------------------------------------------
def test_the_feed_lists_notifications_newest_first(client: Client, receiver: WebhookReceiver, sandbox: Sandbox) -> None:
    feed = widgets.notification_feed(receiver, limit=2)
    assert "no notification yet" in feed.table.value
    for order_id, outcome in (("o-1", "completed"), ("o-2", "declined"), ("o-3", "expired")):
        create(client, order_id, receiver.url)
        sandbox.pay(order_id, outcome)  # each arrives in the receiver's server thread

    rows = re.findall(r"<tr>(.*?)</tr>", feed.table.value)
    assert len(rows) == 2 and "o-3" in rows[0] and "expired / expired" in rows[0] and "o-2" in rows[1]
    assert "3 received" in feed.table.value and repr(feed) == "<NotificationFeed: notification feed: 3 received>"


# -- order_explorer ------------------------------------------------------------------------------------
@pytest.fixture
def journal(sandbox: Sandbox) -> Iterator[Journal]:
    """A journal that recorded three orders (two paid, with their notifications) and one hostile one."""
    with Journal(":memory:") as journal, Client(sandbox.api_key, base_url=sandbox.url, journal=journal) as client:
        with WebhookReceiver(client=client, journal=journal) as receiver:
            for order_id in ("order-b", "order-a", "order-c"):
                create(client, order_id, receiver.url)
            sandbox.pay("order-a", "completed")
            sandbox.pay("order-b", "declined")
            for order_id in ("order-a", "order-b", "order-c"):
                client.get_order(order_id)  # the journal stores what GET returns
        yield journal


def test_the_picker_lists_the_journalled_orders(journal: Journal) -> None:
    explorer = widgets.order_explorer(journal)
    assert explorer.picker.options == ("order-a", "order-b", "order-c")
    assert explorer.picker.value == "order-a"
    assert explorer.tabs.titles == ("order", "costs", "payment_methods", "notifications")
    assert explorer.tabs.children == tuple(explorer.panes)


def test_the_panes_show_the_picked_order_as_tables(journal: Journal) -> None:
    explorer = widgets.order_explorer(journal)
    order, costs, methods, notes = (pane.value for pane in explorer.panes)
    for table in (order, costs, methods, notes):
        assert table.startswith('<table border="1" class="dataframe">')
        assert "order-a" in table and "order-b" not in table
    assert "completed" in order and "IDEAL" in methods
    assert "0.29" in costs  # iDEAL's fee
    assert "completed" in notes and "True" in notes


def test_picking_another_order_updates_the_panes(journal: Journal) -> None:
    explorer = widgets.order_explorer(journal)
    explorer.picker.value = "order-b"
    order, _, _, notes = (pane.value for pane in explorer.panes)
    assert "order-b" in order and "declined" in order and "order-a" not in order
    assert "declined" in notes and "order-a" not in notes

    explorer.picker.value = "order-c"  # never paid: no notifications
    assert "order-c" in explorer.panes[0].value and "initialized" in explorer.panes[0].value
    assert explorer.panes[3].value == "<em>none</em>"


def test_the_explorer_escapes_what_it_shows(sandbox: Sandbox) -> None:
    with Journal(":memory:") as journal, Client(sandbox.api_key, base_url=sandbox.url, journal=journal) as client:
        client.create_order(tutorial_order(order_id="x", description="<script>alert(1)</script>"))
        client.get_order("x")
        explorer = widgets.order_explorer(journal)
    assert "<script>" not in explorer.panes[0].value and "&lt;script&gt;" in explorer.panes[0].value


def test_an_empty_journal_gives_an_empty_picker() -> None:
    with Journal(":memory:") as journal:
        explorer = widgets.order_explorer(journal)
    assert explorer.picker.options == () and explorer.picker.value is None
    assert all(pane.value == "" for pane in explorer.panes)


# -- the API key never reaches a widget's state (which a notebook saves with its outputs) ----------------
@pytest.fixture(scope="module")
def secret_sandbox() -> Iterator[Sandbox]:
    with Sandbox(api_key=SECRET, seed=0, sync_notifications=True) as sandbox:
        yield sandbox


def test_the_api_key_is_in_no_widget_state(secret_sandbox: Sandbox) -> None:
    sandbox = secret_sandbox
    sandbox.reset()
    built: list[w.Widget] = []
    with Journal(":memory:") as journal, Client(SECRET, base_url=sandbox.url, journal=journal) as client:
        with WebhookReceiver(client=client, journal=journal) as receiver:
            form = widgets.order_form(client)
            form.submit.click()
            form.order_id.value = "my-order-id-1"  # the form proposed the next free ID: take the used one again
            form.submit.click()  # an error card too (1006), which must not show the key either
            assert "1006" in form.result.value
            built.append(form)
            tracker = widgets.status_tracker("my-order-id-1", receiver=receiver, client=client)
            built.append(tracker)
            order = tutorial_order(order_id="tracked")
            order["payment_options"]["notification_url"] = receiver.url  # type: ignore[index]
            panel = widgets.payment_panel(client, "tracked", client.create_order(order)["payment_url"])
            panel.buttons[0].click()
            panel.buttons[1].click()
            built.append(panel)
            tracker.refresh.click()
            client.get_order("tracked")
            built.append(widgets.order_explorer(journal))
            assert len(journal.notifications_frame()) == 1
        with Client("KEY-WRONG-987654321", base_url=sandbox.url) as wrong:
            refused = widgets.status_tracker("tracked", client=wrong)
            refused.refresh.click()
            assert "AuthenticationError" in refused.status.value
            built.append(refused)

    for root in built:
        parts = descendants(root)
        assert len(parts) > 5
        for part in parts:
            state = json.dumps(part.get_state(), default=str)
            assert SECRET not in state, (root, part)
            assert "KEY-WRONG-987654321" not in state, (root, part)
