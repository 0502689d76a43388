"""Orders to DataFrames: exact values, every official order example, and properties of odd input.

The tutorial's GET response and the official example responses are read from tests/reference;
the other payloads are written here. Two routes must always agree: the columnar one (pyarrow) and
the Python-lists one it falls back to, and ``load_orders`` on a JSON Lines file must equal
``order_frames`` on the parsed lines.
"""

from __future__ import annotations

import doctest
import json
import math
import re
import tempfile
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from msp_explore import columns, frames
from msp_explore.frames import (
    OrderFrames,
    costs_frame,
    items_frame,
    load_orders,
    order_frames,
    orders_frame,
    payment_methods_frame,
    related_transactions_frame,
)

# Hypothesis caches Unicode tables under ./.hypothesis; keep the repository clean.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "msp-explore-hypothesis")
PROPERTIES = settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

EXAMPLES = ("multisafepay-docs", "openapi", "components", "examples", "responses")
TABLE_NAMES = [f.name for f in fields(OrderFrames)]
STR = pd.StringDtype(na_value=np.nan)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).as_unit("us")


def assert_same_frames(got: OrderFrames, expected: OrderFrames) -> None:
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), obj=name)


def python_route(orders: Any) -> OrderFrames:
    """order_frames with every columnar attempt of stage 1 refused: each column starts as a Python list."""
    with mock.patch.object(columns, "columnar", return_value=None):
        return order_frames(orders)


def write_jsonl(path: Path, documents: list[Any]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path


# -- the tutorial's GET response, read from the tutorial ----------------------------------------------
@pytest.fixture(scope="module")
def tutorial_response() -> dict[str, Any]:
    text = reference("tutorial-api-integration.md").read_text(encoding="utf-8")
    block = re.search(r"Example GET response.*?```[^\n]*\n(.*?)```", text, re.S)
    assert block, "the tutorial has no example GET response"
    return json.loads(block.group(1))  # type: ignore[no-any-return]


def test_tutorial_order_row(tutorial_response: dict[str, Any]) -> None:
    orders = order_frames(tutorial_response).orders  # the envelope is unwrapped
    assert len(orders) == 1
    row = orders.iloc[0]
    assert list(orders.columns[:2]) == ["order_id", "transaction_id"]
    assert row["order_id"] == "my-order-id-1"
    assert row["transaction_id"] == "2345678"  # an int in the response, text here
    assert row["amount"] == 100 and orders["amount"].dtype == np.int64
    assert row["amount.units"] == 1.0
    assert row["amount_refunded"] == 0 and row["amount_refunded.units"] == 0.0
    assert row["created"] == ts("2021-12-07T15:56:32")
    assert row["modified"] == ts("2021-12-07T15:56:40")
    assert orders["created"].dtype == "datetime64[us]"
    assert row["customer.email"] == "jdoe@example.com"
    assert row["customer.phone1"] == "0208500500" and row["customer.phone2"] == ""
    assert row["customer.address2"] is None
    assert row["payment_details.type"] == "IDEAL"
    assert row["payment_details.account_id"] == "1"
    assert row["payment_details.issuer_id"] == "0031"
    assert row["payment_details.recurring_id"] == "998107705729622024"
    assert row["custom_info.custom_1"] is None
    assert row["fastcheckout"] == "NO"
    for name in ("status", "financial_status", "currency", "payment_details.type"):
        assert isinstance(orders[name].dtype, pd.CategoricalDtype), name
    assert row["status"] == "completed" and row["financial_status"] == "completed"
    assert row["items"] is None
    # lists with tables of their own are not order columns
    assert not {"costs", "payment_methods", "related_transactions"} & set(orders.columns)


def test_tutorial_costs_and_payment_methods(tutorial_response: dict[str, Any]) -> None:
    tables = order_frames(tutorial_response)
    expected_costs = pd.DataFrame(
        {
            "order_id": pd.Series(["my-order-id-1"], dtype=STR),
            "transaction_id": pd.Series(["2345678"], dtype=STR),
            "amount": [0.0],
            "costs.transaction_id": pd.Series(["1234567"], dtype=STR),
            "description": pd.Series(["0.00 For iDEAL Transactions"], dtype=STR),
            "type": pd.Categorical(["SYSTEM"]),
        }
    )
    pd.testing.assert_frame_equal(tables.costs, expected_costs)
    methods = tables.payment_methods
    assert methods.to_dict("records") == [
        {
            "order_id": "my-order-id-1",
            "transaction_id": "2345678",
            "account_bic": "INGBNL2A",
            "account_holder_name": "Jan Jansen",
            "account_iban": "NL87ABNA0000000001",
            "account_id": "1",
            "amount": 100,
            "amount.units": 1.0,
            "currency": "EUR",
            "description": "Test Order Description",
            "external_transaction_id": "3749936454986553",
            "payment_description": "iDEAL",
            "status": "completed",
            "type": "IDEAL",
        }
    ]
    assert methods["amount"].dtype == np.int64
    assert tables.related_transactions.shape == (0, 2)  # related_transactions is null
    assert tables.items.shape == (0, 2)


# -- our own orders: a refunded card order in yen and a sparse one in dollars ------------------------
REFUNDED = {
    "amount": 5000,
    "amount_refunded": 2000,
    "completed": "2024-03-01T10:00:05",
    "costs": [
        {"amount": 0.25, "description": "Fixed fee", "transaction_id": 9100001, "type": "SYSTEM"},
        {
            "amount": 0,
            "created": "2024-03-02T09:00:00",
            "description": "Refund order shop-42",
            "status": "completed",
            "transaction_id": "9100002",
            "type": "withdraw",
        },
        "not a cost",
    ],
    "created": "2024-03-01T09:59:50",
    "currency": "JPY",
    "customer": {"country": "JP", "email": "aiko@example.com", "first_name": "Aiko"},
    "description": "Two candle holders",
    "financial_status": "completed",
    "items": "<ul><li>2 x Candle holder</li></ul>",
    "modified": "2024-03-02T09:00:00",
    "order_id": "shop-42",
    "payment_details": {
        "card_authentication_result": {"eci": "05", "status": "Y"},
        "card_expiry_date": "2812",
        "last4": 1111,
        "type": "VISA",
    },
    "payment_methods": [{"amount": 5000, "currency": "JPY", "last4": "1111", "status": "completed", "type": "VISA"}],
    "related_transactions": [
        {
            "amount": 2000,
            "created": "2024-03-02T09:00:00",
            "currency": "JPY",
            "order_id": "shop-42-refund",
            "status": "reserved",
            "transaction_id": 9200001,
            "type": "refund",
        }
    ],
    "shopping_cart": {
        "items": [{"merchant_item_id": 77, "name": "Candle holder", "quantity": 2, "unit_price": 2500.0}]
    },
    "status": "partial_refunded",
    "transaction_id": 8800001,
    "x_campaign": "spring",
}
SPARSE = {
    "amount": 1999,
    "created": "yesterday",
    "currency": "USD",
    "order_id": "shop-43",
    "payment_methods": [{"amount": 1999, "type": "PAYPAL"}, None, 7],
    "shopping_cart": None,
    "status": "initialized",
    "transaction_id": "8800002",
}


@pytest.fixture(scope="module")
def ours() -> OrderFrames:
    return order_frames([REFUNDED, SPARSE])


def test_orders_table(ours: OrderFrames) -> None:
    orders = ours.orders
    assert list(orders["order_id"]) == ["shop-42", "shop-43"]
    assert list(orders["transaction_id"]) == ["8800001", "8800002"]  # int and str: one text column
    assert orders["transaction_id"].dtype == STR
    assert list(orders["amount"]) == [5000, 1999] and orders["amount"].dtype == np.int64
    assert list(orders["amount.units"]) == [5000.0, 19.99]  # yen have no decimals
    assert list(orders.columns).index("amount.units") == list(orders.columns).index("amount") + 1
    assert orders["amount_refunded"].dtype == "Int64"  # missing in one order
    assert orders["amount_refunded"].iloc[0] == 2000 and orders["amount_refunded"].isna().iloc[1]
    assert orders["amount_refunded.units"].iloc[0] == 2000.0
    assert math.isnan(orders["amount_refunded.units"].iloc[1])
    assert orders["created"].iloc[0] == ts("2024-03-01T09:59:50")
    assert orders["created"].isna().iloc[1]  # "yesterday" is not a timestamp
    assert orders["completed"].dtype == "datetime64[us]"
    assert orders["payment_details.last4"].iloc[0] == "1111"  # a number in the order, a code here
    assert orders["payment_details.last4"].isna().iloc[1]
    assert orders["payment_details.card_authentication_result.eci"].iloc[0] == "05"
    assert orders["items"].iloc[0] == "<ul><li>2 x Candle holder</li></ul>"
    assert orders["x_campaign"].iloc[0] == "spring"  # unknown fields are kept
    assert list(orders["status"].cat.categories) == ["initialized", "partial_refunded"]
    assert not {"costs", "payment_methods", "related_transactions", "shopping_cart.items", "shopping_cart"} & set(
        orders.columns
    )


def test_costs_table(ours: OrderFrames) -> None:
    costs = ours.costs
    assert list(costs.columns) == [
        "order_id",
        "transaction_id",
        "amount",
        "costs.transaction_id",
        "created",
        "description",
        "status",
        "type",
    ]
    assert list(costs["order_id"]) == ["shop-42", "shop-42"]  # the junk entry is skipped
    assert list(costs["transaction_id"]) == ["8800001", "8800001"]  # the order's transaction
    assert list(costs["costs.transaction_id"]) == ["9100001", "9100002"]  # the cost's own
    assert list(costs["amount"]) == [0.25, 0.0] and costs["amount"].dtype == np.float64  # already in units
    assert "amount.units" not in costs.columns
    assert costs["created"].isna().iloc[0] and costs["created"].iloc[1] == ts("2024-03-02T09:00:00")
    assert list(costs["type"].cat.categories) == ["SYSTEM", "withdraw"]


def test_payment_methods_table(ours: OrderFrames) -> None:
    methods = ours.payment_methods
    assert list(methods["order_id"]) == ["shop-42", "shop-43"]  # None and 7 are skipped
    assert list(methods["amount"]) == [5000, 1999]
    # the second has no currency of its own: its order's (USD) is used
    assert list(methods["amount.units"]) == [5000.0, 19.99]
    assert methods["currency"].iloc[0] == "JPY" and methods["currency"].isna().iloc[1]
    assert methods["last4"].iloc[0] == "1111"


def test_items_and_related_transactions(ours: OrderFrames) -> None:
    items = ours.items
    assert items.to_dict("records") == [
        {
            "order_id": "shop-42",
            "transaction_id": "8800001",
            "merchant_item_id": "77",
            "name": "Candle holder",
            "quantity": 2,
            "unit_price": 2500.0,
        }
    ]
    related = ours.related_transactions
    assert list(related.columns) == [
        "order_id",
        "transaction_id",
        "amount",
        "amount.units",
        "created",
        "currency",
        "related_transactions.order_id",
        "related_transactions.transaction_id",
        "status",
        "type",
    ]
    row = related.iloc[0]
    assert (row["order_id"], row["transaction_id"]) == ("shop-42", "8800001")
    assert (row["related_transactions.order_id"], row["related_transactions.transaction_id"]) == (
        "shop-42-refund",
        "9200001",
    )
    assert row["amount"] == 2000 and row["amount.units"] == 2000.0
    assert row["type"] == "refund" and row["status"] == "reserved"


def test_child_rows_join_their_order(ours: OrderFrames) -> None:
    joined = ours.costs.merge(ours.orders, on=["order_id", "transaction_id"], suffixes=("", "_order"))
    assert len(joined) == len(ours.costs)
    assert set(joined["status_order"]) == {"partial_refunded"}


def test_standalone_functions_equal_order_frames(ours: OrderFrames) -> None:
    both = [REFUNDED, SPARSE]
    pd.testing.assert_frame_equal(orders_frame(both), ours.orders)
    pd.testing.assert_frame_equal(costs_frame(both), ours.costs)
    pd.testing.assert_frame_equal(payment_methods_frame(both), ours.payment_methods)
    pd.testing.assert_frame_equal(items_frame(both), ours.items)
    pd.testing.assert_frame_equal(related_transactions_frame(both), ours.related_transactions)


def test_python_route_equals_arrow_route(ours: OrderFrames) -> None:
    assert_same_frames(python_route([REFUNDED, SPARSE]), ours)


# -- input shapes -----------------------------------------------------------------------------------
def test_empty_input_gives_key_columns_only() -> None:
    for tables in (order_frames([]), order_frames(iter(())), order_frames([{"success": False, "data": {}}])):
        for name in TABLE_NAMES:
            frame = getattr(tables, name)
            assert frame.shape == (0, 2), name
            assert list(frame.columns) == ["order_id", "transaction_id"]
            assert (frame.dtypes == STR).all()


def test_envelopes_are_unwrapped() -> None:
    documents = [
        {"success": True, "data": {"order_id": "a", "amount": 1}},
        {"success": False, "data": {}, "error_code": 1006, "error_info": "Invalid transaction ID"},
        {"success": True, "data": [{"order_id": "b"}, {"order_id": "c"}, "junk"]},
        {"order_id": "d"},
        "junk",
        None,
    ]
    assert list(orders_frame(documents)["order_id"]) == ["a", "b", "c", "d"]
    assert list(orders_frame({"order_id": "e"})["order_id"]) == ["e"]  # one dict is one order


@pytest.mark.parametrize("wrong", ["order-1", b"{}", 5, None])
def test_input_that_is_not_orders_is_refused(wrong: Any) -> None:
    with pytest.raises(TypeError):
        order_frames(wrong)


def test_keys_of_mixed_types_join() -> None:
    tables = order_frames(
        [
            {"order_id": 1, "transaction_id": 123, "costs": [{"amount": 0.1}]},
            {"order_id": "2", "transaction_id": "124", "costs": [{"amount": 0.2}]},
            {"order_id": 3.0, "transaction_id": True},
        ]
    )
    assert list(tables.orders["order_id"]) == ["1", "2", "3"]
    assert list(tables.orders["transaction_id"]) == ["123", "124", "true"]
    joined = tables.costs.merge(tables.orders, on=["order_id", "transaction_id"])
    assert list(joined["order_id"]) == ["1", "2"]


def test_missing_null_empty_and_odd_lists_give_no_rows() -> None:
    odd: list[Any] = [None, [], "<b>html</b>", {"amount": 1}, [None, 1, "x", []]]
    orders = [{"order_id": str(i), "costs": value, "shopping_cart": {"items": value}} for i, value in enumerate(odd)]
    orders.append({"order_id": "no lists"})
    tables = order_frames(orders)
    assert len(tables.orders) == len(orders)
    assert len(tables.costs) == 0 and len(tables.items) == 0
    assert "costs" not in tables.orders.columns


def test_html_items_string_and_cart_items_together() -> None:
    order = {"order_id": "a", "items": "<p>cart</p>", "shopping_cart": {"items": [{"name": "x"}, {"name": "y"}]}}
    tables = order_frames(order)
    assert tables.orders["items"].iloc[0] == "<p>cart</p>"
    assert list(tables.items["name"]) == ["x", "y"]


def test_unknown_fields_are_kept_and_nested_ones_flattened() -> None:
    orders = orders_frame(
        [{"order_id": "a", "new_field": 1, "extra": {"deep": {"er": "x"}}}, {"order_id": "b", "later": [1, 2]}]
    )
    assert orders["new_field"].dtype == "Int64"
    assert orders["extra.deep.er"].iloc[0] == "x"
    assert orders["later"].iloc[1] == [1, 2]  # a list without a table of its own stays a list


def test_a_field_that_is_an_object_in_one_order_and_text_in_another() -> None:
    orders = orders_frame([{"order_id": "a", "customer": {"email": "e"}}, {"order_id": "b", "customer": "guest"}])
    assert orders["customer"].isna().iloc[0] and orders["customer"].iloc[1] == "guest"
    assert orders["customer.email"].iloc[0] == "e"


def test_null_object_does_not_leave_a_column_beside_its_fields() -> None:
    orders = orders_frame([{"order_id": "a", "customer": None}, {"order_id": "b", "customer": {"email": "e"}}])
    assert "customer" not in orders.columns
    assert list(orders["customer.email"].isna()) == [True, False]


@pytest.mark.parametrize(
    ("currency", "units"),
    [("EUR", 12.34), ("JPY", 1234.0), ("KWD", 1.234), ("XXX", 12.34), (None, math.nan), (5, 12.34)],
)
def test_money_in_units_follows_the_currency(currency: Any, units: float) -> None:
    orders = orders_frame({"order_id": "a", "amount": 1234, "currency": currency})
    got = orders["amount.units"].iloc[0]
    assert got == pytest.approx(units, nan_ok=True)


def test_amounts_that_are_not_whole_numbers_or_not_numbers() -> None:
    orders = orders_frame(
        [{"amount": 100}, {"amount": 100.0}, {"amount": "100"}, {"amount": True}, {"amount": None}, {}]
    )
    assert orders["amount"].dtype == "Int64"
    assert orders["amount"].tolist() == [100, 100, pd.NA, pd.NA, pd.NA, pd.NA]  # text and true are not amounts
    halves = orders_frame([{"amount": 100.5, "currency": "EUR"}])
    assert halves["amount"].dtype == np.float64 and halves["amount.units"].iloc[0] == pytest.approx(1.005)


def test_timestamps() -> None:
    created = [
        "2021-12-07T15:56:32",
        "2021-12-07 15:56:32",
        "2021-12-07",
        "2021-12-07T15:56:32Z",
        "2021-12-07T16:56:32+01:00",
        "2021-12-07T15:56:32.250",
        "2021-02-30T00:00:00",
        "soon",
        "",
        1638892592,
        None,
    ]
    got = orders_frame([{"created": value} for value in created])["created"]
    assert got.dtype == "datetime64[us]"
    assert list(got[:6]) == [
        ts("2021-12-07T15:56:32"),
        ts("2021-12-07T15:56:32"),
        ts("2021-12-07"),
        ts("2021-12-07T15:56:32"),
        ts("2021-12-07T15:56:32"),  # converted to UTC
        ts("2021-12-07T15:56:32.250"),
    ]
    assert got[6:].isna().all()


def test_repr_and_html() -> None:
    tables = order_frames([REFUNDED])
    assert repr(tables).startswith("OrderFrames(orders=(1, ")
    assert "costs=(2, 8)" in repr(tables)
    html = tables._repr_html_()
    assert html.startswith("<table>") and "<code>.related_transactions</code>" in html
    assert "order_id, transaction_id" in html


def test_docstring_examples() -> None:
    with pd.option_context("display.width", 120):
        result = doctest.testmod(frames, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 5


# -- every official example response that holds an order -------------------------------------------
def _order_examples() -> list[str]:
    folder = REFERENCE.joinpath(*EXAMPLES)
    names = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8")).get("data")
        if isinstance(data, dict) and "order_id" in data and ("status" in data or "amount" in data):
            names.append(path.name)
    return names or ["getOrder.json"]  # the folder is missing: reference() below fails


def test_official_order_examples_are_found() -> None:
    reference(*EXAMPLES)
    assert {"getOrder.json", "getOrder3DS.json", "getOrderFailed3DS.json", "postOrdersDirectIdeal.json"} <= set(
        _order_examples()
    )


@pytest.mark.parametrize("name", _order_examples())
def test_official_order_example(name: str) -> None:
    response = json.loads(reference(*EXAMPLES, name).read_text(encoding="utf-8"))
    data = response["data"]
    tables = order_frames(response)
    assert len(tables.orders) == 1
    assert tables.orders["order_id"].iloc[0] == str(data["order_id"])
    assert tables.orders["transaction_id"].iloc[0] == str(data["transaction_id"])
    for table, field in [("costs", "costs"), ("payment_methods", "payment_methods")]:
        frame = getattr(tables, table)
        assert len(frame) == len(data.get(field) or []), table
        assert (frame["order_id"] == str(data["order_id"])).all()
    assert len(tables.related_transactions) == len(data.get("related_transactions") or [])
    assert tables.orders["amount"].iloc[0] == data["amount"]
    assert tables.orders["created"].iloc[0] == ts(data["created"])
    assert_same_frames(python_route(response), tables)


def test_official_order_examples_load_from_json_lines(tmp_path: Path) -> None:
    responses = [json.loads(reference(*EXAMPLES, n).read_text(encoding="utf-8")) for n in _order_examples()]
    path = write_jsonl(tmp_path / "examples.jsonl", responses)
    # external_transaction_id is text in one example and a number in another: this file takes the fallback
    with mock.patch.object(frames, "_read_jsonl", wraps=frames._read_jsonl) as slow:
        assert_same_frames(load_orders(path), order_frames(responses))
    assert slow.called


# -- load_orders --------------------------------------------------------------------------------------
def many_orders(n: int) -> list[dict[str, Any]]:
    """Orders of one shape, with fields that first appear late.

    ``related_transactions`` is null on every line but the last hundred: pyarrow cannot widen a
    field that was null in a whole block to a list in a later one, so ``load_orders`` must cope.
    """
    orders = []
    for i in range(n):
        order: dict[str, Any] = {
            "order_id": f"o-{i}",
            "transaction_id": 1000 + i,
            "amount": 100 + i,
            "currency": ["EUR", "JPY"][i % 2],
            "status": ["completed", "initialized", "refunded"][i % 3],
            "created": f"2024-01-{1 + i % 28:02d}T10:00:{i % 60:02d}",
            "customer": {"email": f"c{i}@example.com"} if i % 5 else None,
            "costs": [{"amount": 0.29, "transaction_id": 5000 + i, "type": "SYSTEM"}] * (i % 3),
            "payment_methods": [{"amount": 100 + i, "type": "IDEAL", "status": "completed"}],
            "related_transactions": None,
        }
        if i >= n - 100:
            order["late_field"] = i
            order["customer"] = {"email": "late@example.com", "late_nested": True}
            order["related_transactions"] = [{"type": "refund", "amount": 50, "transaction_id": 9000 + i}]
        orders.append(order)
    return orders


def test_load_orders_equals_order_frames(tmp_path: Path) -> None:
    orders = many_orders(60_000)  # about 21 MB: more than one pyarrow block
    path = write_jsonl(tmp_path / "orders.jsonl", orders)
    with mock.patch.object(frames, "_read_jsonl", side_effect=AssertionError("took the slow path")):
        loaded = load_orders(path)
    assert_same_frames(loaded, order_frames(orders))
    assert "late_field" in loaded.orders.columns and "customer.late_nested" in loaded.orders.columns


def test_load_orders_unwraps_envelopes_and_skips_blank_lines(tmp_path: Path) -> None:
    first, second = many_orders(2)
    documents = [
        {"success": True, "data": first},
        {"success": False, "data": {}, "error_code": 1006, "error_info": "Invalid transaction ID"},
        {"success": True, "data": second},
    ]
    path = tmp_path / "envelopes.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in documents) + "\n\n", encoding="utf-8")
    with mock.patch.object(frames, "_read_jsonl", side_effect=AssertionError("took the slow path")):
        loaded = load_orders(str(path))
    assert_same_frames(loaded, order_frames(documents))
    assert_same_frames(loaded, order_frames([first, second]))
    # our own odd orders need the slow path (junk in their lists), with the same result
    path = write_jsonl(tmp_path / "odd.jsonl", [{"success": True, "data": REFUNDED}, {"success": True, "data": SPARSE}])
    assert_same_frames(load_orders(path), order_frames([REFUNDED, SPARSE]))


def test_load_orders_falls_back_on_mixed_types(tmp_path: Path) -> None:
    orders = many_orders(50)
    orders[10]["transaction_id"] = "text-id"  # int on the other lines
    orders[20]["customer"] = "guest"  # an object on the other lines
    path = write_jsonl(tmp_path / "mixed.jsonl", orders)
    with mock.patch.object(frames, "_read_jsonl", wraps=frames._read_jsonl) as slow:
        loaded = load_orders(path)
    assert slow.called
    assert_same_frames(loaded, order_frames(orders))
    assert loaded.orders["transaction_id"].iloc[10] == "text-id"


def test_load_orders_keeps_date_like_text_as_text(tmp_path: Path) -> None:
    # pyarrow reads "2024-01-01" as a timestamp wherever it is; only created & co. may be one
    orders = [{"order_id": "a", "var1": "2024-01-01", "created": "2024-01-01", "costs": [{"note": "2024-02-02"}]}]
    path = write_jsonl(tmp_path / "dates.jsonl", orders)
    loaded = load_orders(path)
    assert_same_frames(loaded, order_frames(orders))
    assert loaded.orders["var1"].iloc[0] == "2024-01-01"
    assert loaded.orders["created"].iloc[0] == ts("2024-01-01")


def test_load_orders_with_integers_beyond_int64(tmp_path: Path) -> None:
    orders = [
        {"order_id": "a", "transaction_id": 2**70, "big": 2**70},
        {"order_id": "b", "transaction_id": 1, "big": 1},
    ]
    path = write_jsonl(tmp_path / "big.jsonl", orders)
    loaded = load_orders(path)
    assert_same_frames(loaded, order_frames(orders))
    assert loaded.orders["transaction_id"].iloc[0] == str(2**70)


def test_load_orders_of_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    assert_same_frames(load_orders(path), order_frames([]))


def test_load_orders_reports_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"order_id": "a"}\n{"order_id": \n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        load_orders(path)


def test_load_orders_asks_a_journal_for_its_frames() -> None:
    expected = order_frames([REFUNDED])

    class Journal:
        def order_frames(self) -> OrderFrames:
            return expected

    assert load_orders(Journal()) is expected


# -- properties of odd input ------------------------------------------------------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6)
)
ids = st.one_of(st.none(), st.integers(), st.text(max_size=8), st.floats(allow_nan=False, allow_infinity=False))
moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda d: d.isoformat(timespec="seconds")
)
timestamps = st.one_of(st.none(), moments, st.text(max_size=12), st.integers())
amounts = st.one_of(st.none(), st.integers(-(10**12), 10**12), st.floats(-1e9, 1e9), st.integers(), st.text(max_size=3))
unknown = st.dictionaries(st.text("xyz_", min_size=1, max_size=5).map(lambda s: "x_" + s), scalars, max_size=2)


def entries(optional: dict[str, Any]) -> st.SearchStrategy[Any]:
    entry = st.fixed_dictionaries({}, optional=optional)
    return st.one_of(st.none(), st.lists(st.one_of(entry, entry, scalars), max_size=3), scalars)


cost = {
    "amount": amounts,
    "description": st.text(max_size=5),
    "transaction_id": ids,
    "type": st.one_of(st.sampled_from(["SYSTEM", "internal", "withdraw"]), scalars),
    "created": timestamps,
}
method = {
    "amount": amounts,
    "currency": st.one_of(st.sampled_from(["EUR", "JPY", "KWD"]), scalars),
    "status": st.one_of(st.sampled_from(["completed", "declined"]), scalars),
    "type": st.sampled_from(["IDEAL", "VISA"]),
    "last4": st.one_of(st.text("0123456789", max_size=4), st.integers(0, 9999)),
}
related = {"amount": amounts, "order_id": ids, "transaction_id": ids, "type": st.just("refund"), "costs": st.none()}
order = st.builds(
    lambda known, extra: {**extra, **known},
    st.fixed_dictionaries(
        {},
        optional={
            "order_id": ids,
            "transaction_id": ids,
            "amount": amounts,
            "amount_refunded": amounts,
            "currency": st.one_of(st.sampled_from(["EUR", "JPY", "KWD", "XYZ"]), scalars),
            "status": st.one_of(st.sampled_from(["completed", "initialized"]), scalars),
            "created": timestamps,
            "modified": timestamps,
            "items": st.one_of(st.none(), st.text(max_size=8)),
            "customer": st.one_of(
                st.none(),
                st.fixed_dictionaries({}, optional={"email": st.text(max_size=5), "phone1": scalars}),
                scalars,
            ),
            "payment_details": st.one_of(
                st.none(), st.fixed_dictionaries({}, optional={"type": scalars, "account_id": ids})
            ),
            "costs": entries(cost),
            "payment_methods": entries(method),
            "related_transactions": entries(related),
            "shopping_cart": st.one_of(
                st.none(),
                st.fixed_dictionaries({}, optional={"items": entries({"name": scalars, "unit_price": amounts})}),
            ),
        },
    ),
    unknown,
)


def dict_entries(value: Any) -> int:
    return sum(isinstance(e, dict) for e in value) if isinstance(value, list) else 0


@PROPERTIES
@given(st.lists(order, max_size=5))
def test_odd_orders_never_break_it(orders: list[dict[str, Any]]) -> None:
    tables = order_frames(orders)
    assert len(tables.orders) == len(orders)
    for table, path in frames.CHILD_PATHS.items():
        expected = 0
        for o in orders:
            value: Any = o
            for name in path:
                value = value.get(name) if isinstance(value, dict) else None
            expected += dict_entries(value)
        assert len(getattr(tables, table)) == expected, table
    for name in TABLE_NAMES:
        assert list(getattr(tables, name).columns[:2]) == ["order_id", "transaction_id"], name
    for o in orders:
        for key in o:
            if key.startswith("x_"):
                assert key in tables.orders.columns
    assert_same_frames(python_route(orders), tables)


@PROPERTIES
@given(st.lists(order, max_size=5))
def test_load_orders_equals_order_frames_on_odd_orders(orders: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_jsonl(Path(folder) / "orders.jsonl", orders)
        loaded = load_orders(path)
    assert_same_frames(loaded, order_frames(json.loads(json.dumps(orders))))


# A batch as the API sends it: each field holds one kind of value in every order (or null, or is missing),
# which is what pyarrow's columnar route needs; ``load_orders`` must still equal ``order_frames`` exactly.
KINDS: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "text": st.text(max_size=6),
    "date-like text": st.one_of(moments, st.dates().map(str)),
    "bool": st.booleans(),
    "list": st.lists(st.integers(-5, 5), max_size=3),
}
SHAPES = {
    "": ["order_id", "transaction_id", "amount", "currency", "status", "created", "var1", "x_extra"],
    "customer": ["email", "x_nested"],
    "costs": ["amount", "transaction_id", "type", "created", "x_note"],
    "payment_methods": ["amount", "currency", "status"],
    "related_transactions": ["amount", "order_id", "transaction_id"],
    "shopping_cart.items": ["name", "unit_price", "quantity"],
}


@st.composite
def uniform_batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    plan = {(part, name): draw(st.sampled_from(sorted(KINDS))) for part, names in SHAPES.items() for name in names}

    def fields(part: str) -> dict[str, Any]:
        values = {}
        for name in SHAPES[part]:
            if draw(st.integers(0, 3)):  # present three times in four
                values[name] = draw(st.one_of(st.none(), KINDS[plan[part, name]]))
        return values

    orders = []
    for _ in range(draw(st.integers(0, 5))):
        order = fields("")
        if draw(st.booleans()):
            order["customer"] = draw(st.one_of(st.none(), st.just(fields("customer"))))
        for part in ("costs", "payment_methods", "related_transactions"):
            if draw(st.booleans()):
                order[part] = draw(st.one_of(st.none(), st.lists(st.builds(fields, st.just(part)), max_size=3)))
        if draw(st.booleans()):
            order["shopping_cart"] = {"items": [fields("shopping_cart.items") for _ in range(draw(st.integers(0, 2)))]}
        orders.append(order)
    wrap = draw(st.sampled_from(["bare", "envelopes", "some envelopes"]))
    if wrap != "bare":  # API envelopes, now and then a failed one, as a journal of responses would hold
        failed = {"success": False, "data": {}, "error_code": 1006, "error_info": "Invalid transaction ID"}
        orders = [{"success": True, "data": o} if wrap == "envelopes" or draw(st.booleans()) else o for o in orders]
        orders += [failed] * draw(st.integers(0, 1))
    return orders


@PROPERTIES
@given(uniform_batches())
def test_load_orders_equals_order_frames_on_uniform_batches(orders: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_jsonl(Path(folder) / "orders.jsonl", orders)
        loaded = load_orders(path)
    expected = order_frames(json.loads(json.dumps(orders)))
    assert_same_frames(loaded, expected)
    assert_same_frames(python_route(orders), expected)
