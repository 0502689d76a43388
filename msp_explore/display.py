"""How orders look in Jupyter: a compact card, while staying the plain dict the API returned.

``Client.create_order`` and ``Client.get_order`` return an ``OrderResult``. It *is* a dict (equal to the
plain dict, ``json.dumps`` and pickle work, ``repr`` is the dict's), and Jupyter shows its
``_repr_html_``: the order_id, status and financial_status as coloured badges, the amount with its
currency, the description, a link to the payment page, and when it was created and modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import urlsplit

from .currencies import exponent

_GREEN, _BLUE, _AMBER, _RED, _GREY, _PURPLE = "#1a7f37", "#0969da", "#9a6700", "#cf222e", "#6e7781", "#8250df"
_STATUS_COLOURS = {
    "completed": _GREEN,
    "shipped": _GREEN,
    "initialized": _BLUE,
    "reserved": _AMBER,
    "uncleared": _AMBER,
    "declined": _RED,
    "chargeback": _RED,
    "expired": _GREY,
    "cancelled": _GREY,
    "void": _GREY,
    "refunded": _PURPLE,
    "partial_refunded": _PURPLE,
}
_CARD = (
    "font-family:system-ui,sans-serif;font-size:13px;line-height:1.5;border:1px solid #d0d7de;"
    "border-radius:6px;padding:8px 12px;display:inline-block;min-width:320px;max-width:640px"
)
_MUTED = "color:#57606a;font-size:12px"


def format_amount(amount: Any, currency: Any) -> str:
    """``1000, "EUR"`` → ``"EUR 10.00"``: minor units shown in major units, zero-decimal currencies as-is."""
    code = str(currency or "").upper()
    if isinstance(amount, bool) or not isinstance(amount, int):
        return f"{code} {amount}".strip()
    digits = exponent(code)
    if digits == 0:
        return f"{code} {amount:,}".strip()
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**digits)
    return f"{code} {sign}{whole:,}.{minor:0{digits}d}".strip()


def _badge(field: str, value: Any) -> str:
    colour = _STATUS_COLOURS.get(str(value), _GREY)
    style = f"background:{colour};color:#fff;border-radius:10px;padding:1px 8px;font-size:12px;margin-left:4px"
    return f'<span title="{escape(field)}" style="{style}">{escape(str(value))}</span>'


def _link(url: Any) -> str:
    text = escape(str(url))
    # Only web links become clickable: a javascript: or data: URL in an order must stay inert text.
    if urlsplit(str(url)).scheme.lower() not in ("http", "https"):
        return text
    return f'<a href="{text}" target="_blank" rel="noopener noreferrer">{text}</a>'


def order_card(order: Mapping[str, Any]) -> str:
    """The HTML card for an order (or a create-order result); every value is HTML-escaped."""
    head = f"<strong>{escape(str(order.get('order_id', '')))}</strong>"
    for field in ("status", "financial_status"):
        if order.get(field):
            head += _badge(field, order[field])
    rows = [f"<div>{head}</div>"]
    if "amount" in order:
        amount = escape(format_amount(order["amount"], order.get("currency")))
        refunded = order.get("amount_refunded")
        if isinstance(refunded, int) and not isinstance(refunded, bool) and refunded > 0:
            done = escape(format_amount(refunded, order.get("currency")))
            amount += f' <span style="{_MUTED}">({done} refunded)</span>'
        rows.append(f'<div style="font-size:16px">{amount}</div>')
    if order.get("description"):
        rows.append(f"<div>{escape(str(order['description']))}</div>")
    if order.get("payment_url"):
        rows.append(f"<div>{_link(order['payment_url'])}</div>")
    elif order.get("recovered"):
        rows.append(f'<div style="{_MUTED}">payment_url unknown: the create response was lost</div>')
    stamps = [f"{name} {escape(str(order[name]))}" for name in ("created", "modified") if order.get(name)]
    if stamps:
        rows.append(f'<div style="{_MUTED}">{" · ".join(stamps)}</div>')
    return f'<div class="msp-order" style="{_CARD}">{"".join(rows)}</div>'


class OrderResult(dict[str, Any]):
    """An order as the API returned it: a plain ``dict`` that Jupyter shows as a compact card."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return order_card(self)


def error_card(exc: BaseException) -> str:
    """An error, shown inline where a result would have gone (the message never holds the API key)."""
    style = _CARD.replace("#d0d7de", _RED)
    return (
        f'<div class="msp-error" style="{style}"><strong style="color:{_RED}">{escape(type(exc).__name__)}</strong>'
        f"<div>{escape(str(exc))}</div></div>"
    )


def status_line(order: Mapping[str, Any]) -> str:
    """order_id with its status and financial_status badges, on one line."""
    badges = "".join(_badge(field, order[field]) for field in ("status", "financial_status") if order.get(field))
    return f"<span><strong>{escape(str(order.get('order_id', '')))}</strong>{badges}</span>"
