"""ipywidgets for the notebooks: thin adapters that read values, call the client, and show the result.

Every builder returns a container whose parts are attributes (``form.submit``, ``form.result``...), so
a test or a notebook can set ``.value`` and ``.click()`` without a browser. Results and errors are
written to ``HTML`` widgets, never printed: output printed from another thread (a webhook arriving)
would be lost, and nothing is lost outside a kernel. Each container also reads well where widgets
cannot be drawn (a committed notebook opened before it is run): see ``tracker.ReadableBox``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import requests

from .display import FINAL_STATUSES, MUTED, error_card, order_card
from .errors import MspError, NotFoundError
from .tracker import ReadableBox, StatusTracker, status_tracker
from .tutorial import tutorial_order

if TYPE_CHECKING:
    from .client import Client
    from .journal import Journal
    from .receiver import WebhookReceiver

__all__ = ["OUTCOMES", "notification_feed", "order_explorer", "order_form", "payment_panel", "status_tracker"]

# What a widget shows inline instead of raising out of a button handler: API errors and network failures.
_SHOWN = (MspError, requests.RequestException)
OUTCOMES = ("completed", "declined", "cancelled", "expired", "uncleared")
_STYLE = {"description_width": "110px"}
_WIDE = {"width": "480px"}  # the gateway names are long: a field must show them whole
_CARD_FIELDS = ("amount", "currency", "description")  # what a redirect order's create answer leaves out
FREE_TRIES = 20  # order IDs tried when proposing the next free one


def _text(description: str, value: str) -> w.Text:
    return w.Text(value=value, description=description, style=_STYLE, layout=_WIDE)


def next_order_id(order_id: str) -> str:
    """The ID after ``order_id``: its trailing number plus one (``my-order-id-3`` → ``-4``), else ``-2`` added."""
    match = re.search(r"(\d+)$", order_id)
    if match is None:
        return f"{order_id}-2"
    digits = match.group(1)
    return order_id[: match.start()] + str(int(digits) + 1).zfill(len(digits))


def next_free_order_id(client: Client, order_id: str) -> str:
    """The first ``next_order_id`` after ``order_id`` that GET does not know (at most ``FREE_TRIES`` looked up)."""
    candidate = next_order_id(order_id)
    for _ in range(FREE_TRIES):
        try:
            client.get_order(candidate)
        except NotFoundError:
            return candidate
        except _SHOWN:
            return candidate  # cannot tell; the API will say so if it is taken
        candidate = next_order_id(candidate)
    return candidate


def _order_for_card(client: Client, order_id: str, known: Mapping[str, Any]) -> dict[str, Any]:
    """The order as GET returns it (its real status), with what is ``known`` filling the gaps."""
    try:
        got = dict(client.get_order(order_id))
    except _SHOWN:
        got = {}
    return {**known, **{k: v for k, v in got.items() if v is not None}, "payment_url": known.get("payment_url")
            or got.get("payment_url")}  # fmt: skip


class OrderForm(ReadableBox):
    def summary(self) -> str:
        done = f"; created {self.created['order_id']}" if self.created else ""
        return f"order form: order_id {self.order_id.value}, {self.type.value}, {self.amount.value} cents{done}"

    def snapshot(self) -> str:
        rows = "".join(
            f'<tr><td style="{MUTED};padding-right:8px">{escape(part.description)}</td><td>{escape(str(part.value))}'
            "</td></tr>"
            for part in self.children
            if isinstance(part, w.Text | w.IntText | w.Dropdown)
        )
        return f'<table class="msp-form">{rows}</table>{self.result.value}'


def order_form(
    client: Client, *, order_id: str = "my-order-id-1", on_created: Callable[[dict[str, Any]], None] | None = None
) -> OrderForm:
    """A form for the tutorial's create-order request: shows the created order's card, or the error.

    Parts: ``order_id``, ``type``, ``gateway``, ``amount`` (cents), ``currency``, ``description``,
    ``first_name``, ``last_name``, ``email``, ``submit``, ``result``; ``form.created`` holds the last
    result. After each order made, ``order_id`` proposes the next free one, so pressing again makes another.
    """
    base = tutorial_order()
    customer = base["customer"]
    assert isinstance(customer, dict)
    gateways = [("choose on the payment page", "")] + [
        (f"{g['description']} ({g['id']})", g["id"]) for g in client.list_gateways()
    ]
    form = OrderForm()
    form.order_id = _text("order_id", order_id)
    form.type = w.Dropdown(options=["redirect", "direct"], value="redirect", description="type", style=_STYLE,
                           layout=_WIDE)  # fmt: skip
    form.gateway = w.Dropdown(options=gateways, value="", description="gateway", style=_STYLE, layout=_WIDE)
    form.amount = w.IntText(value=base["amount"], description="amount (cents)", style=_STYLE, layout=_WIDE)
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
        created = form.created
        known = {**{k: order[k] for k in _CARD_FIELDS}, **created}
        card = created if "status" in created else _order_for_card(client, created["order_id"], known)
        form.result.value = order_card(card)
        form.order_id.value = next_free_order_id(client, str(created["order_id"]))
        if on_created is not None:
            on_created(created)

    form.submit.on_click(submit)
    form.children = (form.order_id, form.type, form.gateway, form.amount, form.currency, form.description,
                     form.first_name, form.last_name, form.email, form.submit, form.result)  # fmt: skip
    return form


class PaymentPanel(ReadableBox):
    def summary(self) -> str:
        state = "closed" if self.closed else f"{len(self.buttons)} outcome buttons" if self.buttons else "link only"
        return f"payment panel for {self.order_id}: {state}"

    def snapshot(self) -> str:
        buttons = " ".join(f"[{escape(b.description)}]" for b in self.buttons)
        return f"{self.link.value}<div>{buttons}</div>{self.note.value}{self.result.value}"


def payment_panel(
    client: Client, order_id: str, payment_url: str | None = None, *, tracker: StatusTracker | None = None
) -> PaymentPanel:
    """The order's card and payment link, and on the sandbox a button per test outcome that pays it that way.

    The sandbox takes one payment per order, so once the order is paid (by a button, or on the payment
    page: the ``tracker`` says so) the buttons are disabled and ``note`` says why. A click also brings
    the ``tracker``'s timeline up to date.
    """
    panel = PaymentPanel()
    panel.order_id = order_id
    card = _order_for_card(client, order_id, {"order_id": order_id, "payment_url": payment_url})
    panel.link = w.HTML(order_card(card))
    panel.result = w.HTML()
    panel.note = w.HTML()
    panel.buttons = []
    panel.closed = False
    lock = threading.Lock()

    def close(order: Mapping[str, Any]) -> None:
        status = order.get("status")
        if status in (None, "initialized"):
            return
        with lock:
            card.update(status=status, financial_status=order.get("financial_status"))
            panel.link.value = order_card(card)  # the card says what the note says
            panel.closed = True
            for button in panel.buttons:
                button.disabled = True
            why = "final: nothing is left to pay" if status in FINAL_STATUSES else "paid: the sandbox takes one payment"
            panel.note.value = (f'<div style="{MUTED}">{escape(order_id)} is {escape(str(status))}, {why}. '
                                "Create a new order to try another outcome.</div>")  # fmt: skip

    sandbox = client.sandbox
    if sandbox is not None:
        for outcome in OUTCOMES:
            button = w.Button(description=f"pay: {outcome}", tooltip=f"pay {order_id} so that it ends {outcome}")

            def pay(_: Any, outcome: str = outcome) -> None:
                if panel.closed:
                    return  # a click that raced the disabling: the note already says why
                try:
                    paid = sandbox.pay(order_id, outcome)
                except _SHOWN as exc:
                    panel.result.value = error_card(exc)
                    return
                panel.result.value = order_card(paid)
                close(paid)
                if tracker is not None:
                    tracker.update()

            button.on_click(pay)
            panel.buttons.append(button)
    if tracker is not None:
        tracker.on_change(close)
    close(card)
    panel.children = (panel.link, w.HBox(panel.buttons), panel.note, panel.result)
    return panel


class OrderExplorer(ReadableBox):
    def summary(self) -> str:
        return f"order explorer: {len(self.picker.options)} orders, showing {self.picker.value}"

    def snapshot(self) -> str:
        return f"<div><strong>{escape(str(self.picker.value))}</strong></div>{self.panes[0].value}"


def order_explorer(journal: Journal) -> OrderExplorer:
    """Pick an order from the journal and see it as tables: the order, its costs, payment methods, notifications."""
    explorer = OrderExplorer()
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


class NotificationFeed(ReadableBox):
    def summary(self) -> str:
        return f"notification feed: {self.count} received"

    def snapshot(self) -> str:
        return self.table.value


def notification_feed(receiver: WebhookReceiver, *, limit: int = 12) -> NotificationFeed:
    """Every notification ``receiver`` gets, newest first (the last ``limit``), as it arrives.

    Updated from the receiver's server threads by setting the widget's value, never by printing, so it
    stays live while the notebook's own cell is still running (a batch of orders being paid).
    """
    feed = NotificationFeed()
    feed.count = 0
    feed.table = w.HTML(f'<div style="{MUTED}">no notification yet</div>')
    lines: list[str] = []
    lock = threading.Lock()
    cell = "padding:1px 8px;white-space:nowrap"

    def arrived(record: dict[str, Any]) -> None:
        state = " / ".join(str(record.get(k)) for k in ("status", "financial_status") if record.get(k))
        flags = ("verified" if record.get("verified") else f"rejected: {record.get('reason')}") + (
            ", duplicate" if record.get("duplicate") else "")  # fmt: skip
        row = "".join(f'<td style="{cell}">{escape(str(v))}</td>' for v in (record.get("order_id"), state, flags))
        with lock:
            feed.count += 1
            lines.insert(0, f"<tr>{row}</tr>")
            del lines[limit:]
            feed.table.value = (f'<table class="msp-feed" style="font-size:12px">{"".join(lines)}</table>'
                                f'<div style="{MUTED}">{feed.count} received</div>')  # fmt: skip

    receiver.on_notification(arrived)
    feed.children = (feed.table,)
    return feed
