"""The HTML the widgets show: the status palette, error cards, status lines, links and wide tables.

``order_card``, ``OrderResult`` and ``format_amount`` on whole amounts are tested with the client that
returns them, in test_client.py; this file covers the rest.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from msp_explore.display import (
    FINAL_STATUSES,
    STATUS_COLOURS,
    UNKNOWN_COLOUR,
    error_card,
    format_amount,
    link,
    order_card,
    status_colours,
    status_line,
    wide_html,
    wide_tables,
)
from msp_explore.errors import ApiError, NotFoundError, ValidationError


def test_error_card_names_the_error_and_its_message() -> None:
    html = error_card(NotFoundError(404, 1006, "Invalid transaction ID"))
    assert html.startswith('<div class="msp-error"')
    assert ">NotFoundError</strong>" in html and "<div>1006 Invalid transaction ID (HTTP 404)</div>" in html


def test_error_card_escapes_the_message() -> None:
    html = error_card(ValidationError("description", "<script>alert('x')</script> & more"))
    assert "<script>" not in html
    assert "description: &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html


def test_error_card_of_an_error_without_code() -> None:
    assert "<div>Error (HTTP 502)</div>" in error_card(ApiError(502))


@pytest.mark.parametrize(
    ("order", "badges"),
    [
        ({"order_id": "o-1", "status": "completed", "financial_status": "initialized"}, ["completed", "initialized"]),
        ({"order_id": "o-1", "status": "declined"}, ["declined"]),
        ({"order_id": "o-1", "status": None, "financial_status": ""}, []),
        ({"order_id": "o-1"}, []),
    ],
)
def test_status_line_shows_a_badge_per_known_status(order: dict[str, object], badges: list[str]) -> None:
    html = status_line(order)
    assert html.startswith("<span><strong>o-1</strong>")
    assert re.findall(r'title="(?:status|financial_status)"[^>]*>([^<]*)</span>', html) == badges


def test_status_line_colours_and_escapes() -> None:
    html = status_line({"order_id": "<i>x</i>", "status": "completed", "financial_status": "<b>odd</b>"})
    assert "<i>" not in html and "<b>" not in html
    assert "&lt;i&gt;x&lt;/i&gt;" in html and ">&lt;b&gt;odd&lt;/b&gt;</span>" in html
    assert "background:#1a7f37" in html  # completed is green
    assert f"background:{UNKNOWN_COLOUR}" in html  # an unknown status is grey


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("12.50", "EUR", "EUR 12.50"),
        (True, "EUR", "EUR True"),
        (1000, None, "10.00"),
        (123456789, "krw", "KRW 123,456,789"),
    ],
)
def test_format_amount_leaves_what_is_not_minor_units_as_is(amount: object, currency: object, shown: str) -> None:
    assert format_amount(amount, currency) == shown


def test_one_palette_a_colour_per_status() -> None:
    assert STATUS_COLOURS["completed"] == "#1a7f37" and STATUS_COLOURS["declined"] == "#cf222e"  # green, red
    # every status its own shade, so a stacked plot tells expired from cancelled from void
    assert len(set(STATUS_COLOURS.values())) == len(STATUS_COLOURS)
    assert UNKNOWN_COLOUR not in STATUS_COLOURS.values()
    assert status_colours(["declined", "completed", "nonsense"]) == ["#cf222e", "#1a7f37", UNKNOWN_COLOUR]
    assert set(FINAL_STATUSES) <= set(STATUS_COLOURS) and "uncleared" not in FINAL_STATUSES


@pytest.mark.parametrize(("status", "text"), [("completed", "#fff"), ("partial_refunded", "#1f2328"),
                                              ("reserved", "#1f2328"), ("void", "#fff")])  # fmt: skip
def test_a_badge_text_reads_on_its_colour(status: str, text: str) -> None:
    assert f"background:{STATUS_COLOURS[status]};color:{text};" in status_line({"order_id": "o", "status": status})


def test_links_look_like_links_and_say_when_they_live_only_with_the_kernel() -> None:
    remote = link("https://testpayv2.multisafepay.com/connect/abc")
    assert 'style="color:#0969da;text-decoration:underline"' in remote and "this machine" not in remote
    local = link("http://127.0.0.1:45047/connect/abc/?lang=nl_NL")
    assert local.startswith('<a href="http://127.0.0.1:45047/connect/abc/?lang=nl_NL" target="_blank"')
    assert "(on this machine: open while the notebook's kernel runs)" in local
    assert link("javascript:alert(1)") == "javascript:alert(1)"
    card = order_card({"order_id": "o", "payment_url": "http://localhost:1/x"})
    assert "open while the notebook" in card


def test_wide_tables_keep_ids_on_one_line() -> None:
    frame = pd.DataFrame({"order_id": ["my-order-id-1"], "description": ["0.29 For iDEAL Transactions"]})
    html = wide_html(frame)
    assert '<table border="1" class="dataframe msp-wide">' in html
    # on every cell: an untrusted notebook keeps style attributes, not <style> blocks
    assert '<td style="white-space:nowrap">my-order-id-1</td>' in html
    assert '<th style="white-space:nowrap">order_id</th>' in html
    assert "<td>" not in html and "<th>" not in html
    with pd.option_context("display.max_rows", 4):
        long = wide_html(pd.DataFrame({"n": range(10)}))
    assert "..." in long and "10 rows × 1 columns" in long  # pandas' own limits still apply
    assert wide_tables() is False  # outside IPython there is nothing to register with
