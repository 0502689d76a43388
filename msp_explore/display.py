"""How orders look in Jupyter: one status palette, compact cards, and tables that keep IDs on one line.

``Client.create_order`` and ``Client.get_order`` return an ``OrderResult``. It *is* a dict (equal to the
plain dict, ``json.dumps`` and pickle work, ``repr`` is the dict's), and Jupyter shows its
``_repr_html_``: the order_id, status and financial_status as coloured badges, the amount with its
currency, the description, a link to the payment page, and when it was created and modified.

``STATUS_COLOURS`` is the one palette: the badges, the widgets and the plots (``plots.py``) all take
their colours from it, so ``completed`` is the same green everywhere and ``declined`` the same red.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import urlsplit

from .config import is_local
from .currencies import exponent

# Families by meaning (green paid, blue open, amber on hold, red refused, grey ended unpaid, purple money
# back), one shade per status so that a stacked plot can still tell expired from cancelled from void.
STATUS_COLOURS = {
    "completed": "#1a7f37",
    "shipped": "#4ac26b",
    "initialized": "#0969da",
    "reserved": "#d4a72c",
    "uncleared": "#9a6700",
    "declined": "#cf222e",
    "chargeback": "#82071e",
    "expired": "#6e7781",
    "cancelled": "#8c959f",
    "void": "#424a53",
    "refunded": "#8250df",
    "partial_refunded": "#c297ff",
}
UNKNOWN_COLOUR = "#57606a"
# Where an order's story ends, as far as paying goes: nothing happens to it any more by itself. MultiSafepay
# does not define "final"; completed and shipped can still be refunded, but no payment outcome follows.
FINAL_STATUSES = ("completed", "shipped", "declined", "cancelled", "void", "expired", "refunded",
                  "partial_refunded", "chargeback")  # fmt: skip
LINK_STYLE = "color:#0969da;text-decoration:underline"  # widget HTML gets no link colour of its own
_CARD = (
    "font-family:system-ui,sans-serif;font-size:13px;line-height:1.5;border:1px solid #d0d7de;"
    "border-radius:6px;padding:8px 12px;display:inline-block;min-width:320px;max-width:640px"
)
MUTED = "color:#57606a;font-size:12px"
_RED = STATUS_COLOURS["declined"]


def status_colour(status: Any) -> str:
    """The palette's colour for a status (a neutral grey for one it does not know)."""
    return STATUS_COLOURS.get(str(status), UNKNOWN_COLOUR)


def status_colours(statuses: Iterable[Any]) -> list[str]:
    """``status_colour`` of each, in order: the ``color=`` list for a plot whose series are statuses."""
    return [status_colour(status) for status in statuses]


def _text_on(colour: str) -> str:
    """Black or white text, whichever reads better on ``colour`` (``#rrggbb``)."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#1f2328" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#fff"


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


def badge(field: str, value: Any) -> str:
    """A status as a coloured pill, ``title`` naming the field it came from."""
    colour = status_colour(value)
    style = (
        f"background:{colour};color:{_text_on(colour)};border-radius:10px;padding:1px 8px;font-size:12px;"
        "margin-left:4px;white-space:nowrap"
    )
    return f'<span title="{escape(field)}" style="{style}">{escape(str(value))}</span>'


def link(url: Any) -> str:
    """A clickable link for a web URL; anything else (``javascript:``, ``data:``) stays inert text.

    A link to this machine (the embedded sandbox's payment page) says so: its port lives only as long as
    the kernel that started it, so in a notebook opened later it leads nowhere until the notebook is run.
    """
    text = escape(str(url))
    if urlsplit(str(url)).scheme.lower() not in ("http", "https"):
        return text
    anchor = f'<a href="{text}" target="_blank" rel="noopener noreferrer" style="{LINK_STYLE}">{text}</a>'
    if is_local(str(url)):
        anchor += f' <span style="{MUTED}">(on this machine: open while the notebook\'s kernel runs)</span>'
    return anchor


def order_card(order: Mapping[str, Any]) -> str:
    """The HTML card for an order (or a create-order result); every value is HTML-escaped."""
    head = f"<strong>{escape(str(order.get('order_id', '')))}</strong>"
    for field in ("status", "financial_status"):
        if order.get(field):
            head += badge(field, order[field])
    rows = [f"<div>{head}</div>"]
    if "amount" in order:
        amount = escape(format_amount(order["amount"], order.get("currency")))
        refunded = order.get("amount_refunded")
        if isinstance(refunded, int) and not isinstance(refunded, bool) and refunded > 0:
            done = escape(format_amount(refunded, order.get("currency")))
            amount += f' <span style="{MUTED}">({done} refunded)</span>'
        rows.append(f'<div style="font-size:16px">{amount}</div>')
    if order.get("description"):
        rows.append(f"<div>{escape(str(order['description']))}</div>")
    if order.get("payment_url"):
        rows.append(f"<div>{link(order['payment_url'])}</div>")
    elif order.get("recovered"):
        rows.append(f'<div style="{MUTED}">payment_url unknown: the create response was lost</div>')
    stamps = [f"{name} {escape(str(order[name]))}" for name in ("created", "modified") if order.get(name)]
    if stamps:
        rows.append(f'<div style="{MUTED}">{" · ".join(stamps)}</div>')
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
    badges = "".join(badge(field, order[field]) for field in ("status", "financial_status") if order.get(field))
    return f"<span><strong>{escape(str(order.get('order_id', '')))}</strong>{badges}</span>"


# -- tables -------------------------------------------------------------------------------------------------
_CELL_TAG = re.compile(r"<(td|th)(?=[\s>])")


def wide_html(frame: Any) -> str:
    """A DataFrame's notebook HTML, as pandas writes it, with every cell kept on one line.

    JupyterLab lets table cells wrap, so a wide table breaks ``my-order-id-1`` at its hyphens; a wide
    table should scroll sideways instead. The rule is on each cell, since a notebook that is not trusted
    (opened before it is run) drops ``<style>`` but keeps ``style=``. Row and column limits are pandas'
    display options.
    """
    import pandas as pd

    html = frame.to_html(
        notebook=True,
        classes="msp-wide",
        max_rows=pd.get_option("display.max_rows"),
        max_cols=pd.get_option("display.max_columns"),
        show_dimensions=pd.get_option("display.show_dimensions"),
    )
    return _CELL_TAG.sub(r'<\1 style="white-space:nowrap"', html)


def wide_tables() -> bool:
    """Show every DataFrame in this IPython session through ``wide_html``; False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    import pandas as pd

    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, wide_html)
    return True
