"""The HTML the widgets show: error cards and status lines.

``order_card``, ``OrderResult`` and ``format_amount`` on whole amounts are tested with the client that
returns them, in test_client.py; this file covers the rest.
"""

from __future__ import annotations

import re

import pytest

from msp_explore.display import error_card, format_amount, status_line
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
    assert "background:#6e7781" in html  # an unknown status is grey


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
