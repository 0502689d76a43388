"""The status tracker: one order's status and its webhook delivery timeline, live, safe from any thread.

Notifications reach a ``WebhookReceiver`` in its server's threads, and the tracker is told there. It
never prints (ipywidgets drop output written from other threads): every change is a widget trait set
under one lock, which ipykernel sends to the page from whichever thread sets it.

The timeline joins two views of each webhook attempt: the sandbox's (when it was made on the sandbox
clock, the HTTP answer, acknowledged or not, the retry still due) and the receiver's (verified,
duplicate). On MultiSafepay's own API only the receiver's side is known.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import requests

from .display import FINAL_STATUSES, MUTED, error_card, status_line
from .errors import MspError

if TYPE_CHECKING:
    from .client import Client
    from .receiver import WebhookReceiver

logger = logging.getLogger(__name__)

_SHOWN = (MspError, requests.RequestException)  # shown in the widget instead of raised out of a handler
FOLLOW_FOR = 5.0  # seconds a notification's delivery record is looked for on the sandbox after it arrived
_YES, _NO, _NONE = '<span style="color:#1a7f37">✓</span>', '<span style="color:#cf222e">✗</span>', "–"
_CELL = "padding:2px 8px;text-align:left;white-space:nowrap;border-bottom:1px solid #eaeef2"


class ReadableBox(w.VBox):
    """A VBox that also reads well where no widget can be drawn.

    A committed notebook opened before it is run (or untrusted) cannot draw widgets: Jupyter then shows
    the output's ``text/html`` or ``text/plain``. This box gives both, as it was when displayed: a
    snapshot of its cards and a one-line summary, instead of ``VBox(children=(HTML(value=...``.
    """

    def summary(self) -> str:
        return type(self).__name__

    def snapshot(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.summary()}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = repr(self)
        data["text/html"] = f'<div class="msp-snapshot">{self.snapshot()}</div>'
        return data


# -- the timeline, as data ------------------------------------------------------------------------------------
def delivery_timeline(deliveries: Iterable[Mapping[str, Any]], records: Iterable[Mapping[str, Any]]) -> list[dict]:
    """One row per webhook attempt, oldest first: the sandbox's delivery joined with what the receiver made of it.

    An attempt and a received notification are the same when their order and ``timestamp`` (the one sent
    on the wire) agree, and the receiver's verdict fits the answer the sandbox got (it acknowledges what it
    verified); receiver records left over (MultiSafepay's own notifications, a forged one, or one whose
    delivery the sandbox has not recorded yet) follow, with what only the receiver knows.
    """
    left = list(records)
    rows = []
    for delivery in deliveries:
        match = next((r for r in left if _same_attempt(delivery, r)), None)
        if match is not None:
            left.remove(match)
        rows.append({
            "time": delivery.get("time"), "notification": delivery.get("notification"),
            "attempt": delivery.get("attempt"), "status_code": delivery.get("status_code"),
            "error": delivery.get("error"), "acknowledged": bool(delivery.get("acknowledged")),
            "retry_due": delivery.get("retry_due"), **_received(match),
        })  # fmt: skip
    for record in left:
        verified = bool(record.get("verified"))
        rows.append({
            "time": str(record.get("received_at") or ""), "notification": None, "attempt": None,
            "status_code": None, "error": None, "acknowledged": verified, "retry_due": None, **_received(record),
        })  # fmt: skip
    return rows


def _same_attempt(delivery: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    if record.get("order_id") != delivery.get("order_id") or str(record.get("timestamp")) != str(
            delivery.get("timestamp")):  # fmt: skip
        return False
    return delivery.get("status_code") is None or bool(delivery.get("acknowledged")) == bool(record.get("verified"))


def _received(record: Mapping[str, Any] | None) -> dict[str, Any]:
    if record is None:
        return {"status": None, "financial_status": None, "verified": None, "duplicate": None, "reason": None}
    return {key: record.get(key) for key in ("status", "financial_status", "verified", "duplicate", "reason")}


def retries_due(deliveries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The retries still scheduled: per notification whose latest attempt was not acknowledged, when and which."""
    latest: dict[Any, Mapping[str, Any]] = {}
    for delivery in deliveries:
        latest[delivery.get("notification")] = delivery
    return [
        {"notification": number, "attempt": int(d.get("attempt") or 0) + 1, "due": d["retry_due"]}
        for number, d in latest.items()
        if d.get("retry_due")
    ]


def timeline_html(rows: list[dict[str, Any]], due: list[dict[str, Any]]) -> str:
    """The timeline as a small table, with the retries still due below it."""
    if not rows:
        return f'<div class="msp-timeline" style="{MUTED}">no webhook notification yet</div>'
    head = ("time", "notification", "status", "HTTP", "acknowledged", "verified", "duplicate", "retry due")
    cells = "".join(f'<th style="{_CELL}">{name}</th>' for name in head)
    body = []
    for row in rows:
        number = "–" if row["notification"] is None else f"#{row['notification']} attempt {row['attempt']}"
        state = " / ".join(str(row[k]) for k in ("status", "financial_status") if row[k]) or "–"
        if row["reason"]:
            state += f" (rejected: {row['reason']})"
        http = row["status_code"] if row["status_code"] is not None else ("no answer" if row["error"] else "–")
        values = (row["time"], number, state, http)
        flags = [_flag(row["acknowledged"]), _flag(row["verified"]), "yes" if row["duplicate"] else _NONE]
        tds = [f'<td style="{_CELL}"' + (f' title="{escape(str(row["error"]))}"' if i == 3 and row["error"] else "")
               + f">{escape(str(v))}</td>" for i, v in enumerate(values)]  # fmt: skip
        tds += [f'<td style="{_CELL}">{flag}</td>' for flag in flags]
        tds.append(f'<td style="{_CELL}">{escape(str(row["retry_due"] or "–"))}</td>')
        body.append(f"<tr>{''.join(tds)}</tr>")
    if due:
        pending = "; ".join(f"#{d['notification']} attempt {d['attempt']} at {d['due']}" for d in due)
        footer = f"retries still due (sandbox clock): {escape(pending)}"
    else:
        footer = "no retries due"
    return (
        f'<div class="msp-timeline"><table style="border-collapse:collapse;font-size:12px"><tr>{cells}</tr>'
        f'{"".join(body)}</table><div style="{MUTED}">{footer}</div></div>'
    )


def _flag(value: bool | None) -> str:
    return _NONE if value is None else (_YES if value else _NO)


# -- the widget ---------------------------------------------------------------------------------------------
class StatusTracker(ReadableBox):
    """``status`` and ``financial_status`` of one order, and its webhook timeline, kept current.

    Parts: ``status`` (HTML), ``timeline`` (HTML), ``note`` (what ``wait`` is doing), ``refresh`` (a
    Button, with a client). ``seen`` holds the receiver's records for this order, ``deliveries`` the
    sandbox's attempts, ``order`` the latest known ``status`` and ``financial_status``.
    """

    def __init__(self, order_id: str, *, receiver: WebhookReceiver | None = None, client: Client | None = None):
        super().__init__()
        self.order_id = order_id
        self.receiver, self.client = receiver, client
        self.sandbox = client.sandbox if client is not None else None
        self.order: dict[str, Any] = {"order_id": order_id}
        self.seen: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._tickets = itertools.count(1)
        self._applied = 0  # the ticket of the delivery list shown: an older fetch never replaces a newer one
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self.status = w.HTML(status_line(self.order))
        self.timeline = w.HTML(timeline_html([], []))
        self.note = w.HTML()
        parts: list[w.Widget] = [self.status, self.timeline, self.note]
        if receiver is not None:
            receiver.on_notification(self.notified)
        if client is not None:
            self.refresh = w.Button(description="Refresh (GET)")
            self.refresh.on_click(lambda _: self.update(get=True))
            parts.append(self.refresh)
        self.children = tuple(parts)

    # -- what the page reads --------------------------------------------------------------------------------
    def summary(self) -> str:
        with self._lock:
            state = " / ".join(str(self.order[k]) for k in ("status", "financial_status") if self.order.get(k))
            rows = delivery_timeline(self.deliveries, self.seen)
            due = retries_due(self.deliveries)
        acked = sum(1 for row in rows if row["acknowledged"])
        return (f"{self.order_id}: {state or 'no status yet'}; {len(rows)} webhook attempt(s), {acked} acknowledged"
                f"{'; retries due' if due else ''}")  # fmt: skip

    def snapshot(self) -> str:
        return f"<div>{self.status.value}</div>{self.timeline.value}{self.note.value}"

    def on_change(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(order)`` (``order_id``, ``status``, ``financial_status``) whenever the status changes."""
        self._listeners.append(callback)

    # -- what changes it ------------------------------------------------------------------------------------
    def notified(self, record: dict[str, Any]) -> None:
        """A notification arrived (the receiver calls this in its server's thread)."""
        if record.get("order_id") != self.order_id:
            return
        with self._lock:
            self.seen.append(record)
            changed = bool(record.get("verified")) and self._set_status(record)
            self._render()
        if changed:
            self._tell()
        if self.sandbox is not None:
            # The sandbox records an attempt once the answer is back, after this returns: look for it then.
            threading.Thread(target=self._follow, name="msp-tracker-follow", daemon=True).start()

    def update(self, *, get: bool = False) -> None:
        """Read the sandbox's deliveries again and, with ``get``, the order itself (GET); errors are shown."""
        try:
            if self.sandbox is not None:
                ticket = next(self._tickets)
                self._take_deliveries(ticket, self.sandbox.list_deliveries(self.order_id))
            if get and self.client is not None:
                order = self.client.get_order(self.order_id)
                with self._lock:
                    changed = self._set_status(order)
                    self._render()
                if changed:
                    self._tell()
        except _SHOWN as exc:
            self.status.value = error_card(exc)

    def _follow(self) -> None:
        deadline = time.monotonic() + FOLLOW_FOR
        while time.monotonic() < deadline:
            ticket = next(self._tickets)
            try:
                deliveries = self.sandbox.list_deliveries(self.order_id)  # type: ignore[union-attr]
            except _SHOWN as exc:  # the sandbox went away: the timeline stays as it was
                logger.debug("tracker of %s could not read deliveries: %s", self.order_id, exc)
                return
            self._take_deliveries(ticket, deliveries)
            with self._lock:
                if not any(row["notification"] is None for row in delivery_timeline(self.deliveries, self.seen)):
                    return  # every notification received is matched with its delivery
            time.sleep(0.1)

    def _take_deliveries(self, ticket: int, deliveries: list[dict[str, Any]]) -> None:
        with self._lock:
            if ticket > self._applied:
                self._applied, self.deliveries = ticket, deliveries
                self._render()

    def _set_status(self, source: Mapping[str, Any]) -> bool:
        new = {"order_id": self.order_id, "status": source.get("status"),
               "financial_status": source.get("financial_status")}  # fmt: skip
        changed = new != self.order
        self.order = new
        self._changed.notify_all()
        return changed

    def _render(self) -> None:
        self.status.value = status_line(self.order)
        self.timeline.value = timeline_html(delivery_timeline(self.deliveries, self.seen), retries_due(self.deliveries))

    def _tell(self) -> None:
        order = dict(self.order)
        for callback in list(self._listeners):
            try:
                callback(order)
            except Exception:  # one listener's bug must not stop the others, nor escape a button's callback
                logger.exception("tracker listener %r failed", callback)

    # -- waiting --------------------------------------------------------------------------------------------
    def wait(self, timeout: float = 600.0, *, until: Iterable[str] = FINAL_STATUSES, poll: float | None = None) -> dict:
        """Wait until the order reaches one of ``until`` (a final status) and return its status.

        Shown in the running cell: what it waits for, the status as it changes, the timeline. Without a
        notification the order is fetched every ``poll`` seconds (1 on the sandbox, 5 elsewhere). After
        ``timeout`` seconds it stops with a ``TimeoutError`` saying where the order stands; interrupting
        the kernel stops it the same way, with a ``KeyboardInterrupt``.
        """
        __tracebackhide__ = True  # IPython shows the cell's line, not this function's insides
        wanted = tuple(until)
        poll = poll if poll is not None else (1.0 if self.sandbox is not None else 5.0)
        started = time.monotonic()
        self.note.value = self._note(f"waiting up to {timeout:g} s for a final status ({', '.join(wanted)})")
        self.update(get=True)
        _show_in_cell(self)
        try:
            while (status := self.order.get("status")) not in wanted:
                remaining = started + timeout - time.monotonic()
                if remaining <= 0:
                    break
                with self._lock:
                    self._changed.wait(min(poll, remaining))
                self.update(get=True)
        except KeyboardInterrupt:
            self.note.value = self._note(f"stopped waiting (interrupted) after {time.monotonic() - started:.0f} s")
            raise KeyboardInterrupt(f"stopped waiting for {self.order_id}, which is {self._state()}") from None
        if status not in wanted:
            hint = ("pay it on its payment page, or with a button on the sandbox; an uncleared order is decided "
                    "later (on the sandbox, client.sandbox.advance(seconds) brings that on)")  # fmt: skip
            self.note.value = self._note(f"gave up after {timeout:g} s: still {self._state()}; {hint}")
            raise TimeoutError(f"{self.order_id} is still {self._state()} after {timeout:g} s: {hint}") from None
        self.note.value = self._note(f"reached {self._state()}")
        return dict(self.order)

    def _state(self) -> str:
        return " / ".join(str(self.order[k]) for k in ("status", "financial_status") if self.order.get(k)) or "unknown"

    def _note(self, text: str) -> str:
        return f'<div class="msp-wait" style="{MUTED}">{escape(self.order_id)}: {escape(text)}</div>'


def _show_in_cell(widget: w.Widget) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display(widget)


def status_tracker(
    order_id: str, *, receiver: WebhookReceiver | None = None, client: Client | None = None
) -> StatusTracker:
    """A ``StatusTracker`` for ``order_id``: told by ``receiver``, reading the sandbox and GET through ``client``."""
    return StatusTracker(order_id, receiver=receiver, client=client)
