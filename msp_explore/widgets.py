"""ipywidgets for the notebooks: thin adapters that read values, call the client, and show the result.

Every builder returns a container whose parts are attributes (``form.submit``, ``form.result``...), so
a test or a notebook can set ``.value`` and ``.click()`` without a browser. Results and errors are
written to ``HTML`` widgets, never printed, so nothing is lost outside a kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import requests

from .display import error_card, order_card, status_line
from .errors import MspError
from .tutorial import tutorial_order

if TYPE_CHECKING:
    from .client import Client
    from .journal import Journal
    from .receiver import WebhookReceiver

# What a widget shows inline instead of raising out of a button handler: API errors and network failures.
_SHOWN = (MspError, requests.RequestException)
OUTCOMES = ("completed", "declined", "cancelled", "expired", "uncleared")
_LAYOUT = {"description_width": "110px"}


def _text(description: str, value: str) -> w.Text:
    return w.Text(value=value, description=description, style=_LAYOUT)


def order_form(
    client: Client, *, order_id: str = "my-order-id-1", on_created: Callable[[dict[str, Any]], None] | None = None
) -> w.VBox:
    """A form for the tutorial's create-order request: shows the created order's card, or the error.

    Parts: ``order_id``, ``type``, ``gateway``, ``amount`` (cents), ``currency``, ``description``,
    ``first_name``, ``last_name``, ``email``, ``submit``, ``result``; ``form.created`` holds the last result.
    """
    base = tutorial_order()
    customer = base["customer"]
    assert isinstance(customer, dict)
    gateways = [("choose on the payment page", "")] + [
        (f"{g['description']} ({g['id']})", g["id"]) for g in client.list_gateways()
    ]
    form = w.VBox()
    form.order_id = _text("order_id", order_id)
    form.type = w.Dropdown(options=["redirect", "direct"], value="redirect", description="type", style=_LAYOUT)
    form.gateway = w.Dropdown(options=gateways, value="", description="gateway", style=_LAYOUT)
    form.amount = w.IntText(value=base["amount"], description="amount (cents)", style=_LAYOUT)
    form.currency = _text("currency", str(base["currency"]))
    form.description = _text("description", str(base["description"]))
    form.first_name = _text("first_name", customer["first_name"])
    form.last_name = _text("last_name", customer["last_name"])
    form.email = _text("email", customer["email"])
    form.submit = w.Button(description="Create order", button_style="primary")
    form.result = w.HTML()
    form.created = None

    def submit(_: Any = None) -> None:
        person = {"first_name": form.first_name.value, "last_name": form.last_name.value, "email": form.email.value}
        order = tutorial_order(
            order_id=form.order_id.value, type=form.type.value, gateway=form.gateway.value,
            amount=form.amount.value, currency=form.currency.value, description=form.description.value,
            customer={**customer, **person},
        )  # fmt: skip
        try:
            form.created = client.create_order(order)
        except _SHOWN as exc:
            form.result.value = error_card(exc)
            return
        form.result.value = order_card(form.created)
        if on_created is not None:
            on_created(form.created)

    form.submit.on_click(submit)
    form.children = (form.order_id, form.type, form.gateway, form.amount, form.currency, form.description,
                     form.first_name, form.last_name, form.email, form.submit, form.result)  # fmt: skip
    return form


def payment_panel(client: Client, order_id: str, payment_url: str | None = None) -> w.VBox:
    """The payment link, and on the sandbox a button per test outcome that pays the order that way."""
    panel = w.VBox()
    panel.link = w.HTML(order_card({"order_id": order_id, "payment_url": payment_url}) if payment_url else "")
    panel.result = w.HTML()
    panel.buttons = []
    sandbox = client.sandbox
    if sandbox is not None:
        for outcome in OUTCOMES:
            button = w.Button(description=f"pay: {outcome}", tooltip=f"pay {order_id} so that it ends {outcome}")

            def pay(_: Any, outcome: str = outcome) -> None:
                try:
                    panel.result.value = order_card(sandbox.pay(order_id, outcome))
                except _SHOWN as exc:
                    panel.result.value = error_card(exc)

            button.on_click(pay)
            panel.buttons.append(button)
    panel.children = (panel.link, w.HBox(panel.buttons), panel.result)
    return panel


def status_tracker(order_id: str, *, receiver: WebhookReceiver | None = None, client: Client | None = None) -> w.VBox:
    """``status`` and ``financial_status`` of one order, updated as notifications arrive (or on Refresh)."""
    tracker = w.VBox()
    tracker.status = w.HTML(status_line({"order_id": order_id}))
    tracker.history = w.HTML()
    tracker.seen = []

    def show(order: dict[str, Any]) -> None:
        tracker.status.value = status_line(order)

    def notified(record: dict[str, Any]) -> None:
        if record.get("order_id") != order_id:
            return
        tracker.seen.append(record)
        if record.get("verified"):
            show(record)
        rows = "".join(
            f"<li>{escape(str(r.get('status')))} / {escape(str(r.get('financial_status')))}"
            f"{'' if r.get('verified') else ' (rejected: ' + escape(str(r.get('reason'))) + ')'}"
            f"{' (duplicate)' if r.get('duplicate') else ''}</li>"
            for r in tracker.seen
        )
        tracker.history.value = f"<ol>{rows}</ol>"

    parts: list[w.Widget] = [tracker.status, tracker.history]
    if receiver is not None:
        receiver.on_notification(notified)
    tracker.notified = notified
    if client is not None:
        tracker.refresh = w.Button(description="Refresh (GET)")

        def refresh(_: Any = None) -> None:
            try:
                show(client.get_order(order_id))
            except _SHOWN as exc:
                tracker.status.value = error_card(exc)

        tracker.refresh.on_click(refresh)
        parts.append(tracker.refresh)
    tracker.children = tuple(parts)
    return tracker


def order_explorer(journal: Journal) -> w.VBox:
    """Pick an order from the journal and see it as tables: the order, its costs, payment methods, notifications."""
    explorer = w.VBox()
    ids = sorted({str(order["order_id"]) for order in journal.orders()})
    explorer.picker = w.Dropdown(options=ids, value=ids[0] if ids else None, description="order_id")
    explorer.tabs = w.Tab()
    names = ("order", "costs", "payment_methods", "notifications")
    explorer.panes = [w.HTML() for _ in names]
    explorer.tabs.children = tuple(explorer.panes)
    for index, name in enumerate(names):
        explorer.tabs.set_title(index, name)

    def show(_: Any = None) -> None:
        from .frames import order_frames

        order_id = explorer.picker.value
        latest = [o for o in journal.orders() if str(o.get("order_id")) == order_id]
        frames = order_frames(latest)
        notes = journal.notifications_frame()
        notes = notes[notes["order_id"] == order_id].drop(columns=["received_at"], errors="ignore")
        tables = (frames.orders.T, frames.costs, frames.payment_methods, notes)
        for pane, table in zip(explorer.panes, tables, strict=True):
            pane.value = table.to_html(na_rep="") if len(table) else "<em>none</em>"

    explorer.picker.observe(show, names="value")
    if ids:
        show()
    explorer.children = (explorer.picker, explorer.tabs)
    return explorer
