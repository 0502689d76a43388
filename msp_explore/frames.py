"""Turn MultiSafepay order objects into pandas DataFrames, one table per grain.

An order (the ``data`` of GET /orders/{order_id}) nests lists of costs, payment methods, cart lines
and related transactions. :func:`order_frames` splits orders into five tables that join on
``order_id`` and ``transaction_id``:

========================  ==================================================
``orders``                one row per order
``costs``                 one row per ``costs[]`` entry
``payment_methods``       one row per ``payment_methods[]`` entry
``items``                 one row per ``shopping_cart.items[]`` line
``related_transactions``  one row per ``related_transactions[]`` entry
========================  ==================================================

The same column rules hold in every table:

* Column names are the API's paths: nested objects are flattened with dots (``customer.email``,
  ``payment_details.card_authentication_result.eci``). Unknown fields are kept the same way.
* ``order_id`` and ``transaction_id`` come first, then the other columns in alphabetical order of
  their paths, as the API lists keys. In a child table the keys are the *parent order's*
  keys; a child's own field of the same name is renamed to its API path, so a cost's own
  transaction is ``costs.transaction_id`` and a refund's own IDs are ``related_transactions.order_id``
  and ``related_transactions.transaction_id``.
* IDs are text (pandas ``str``): the API sends ``transaction_id`` as a number in one place and a
  string in another, so ``123`` and ``"123"`` both become ``"123"`` and join. Text columns are every
  field named ``*_id`` plus ``last4``, ``card_expiry_date``, ``reason_code`` and ``response_code``.
* Amounts in minor units (``amount`` and ``amount_refunded`` of an order, ``amount`` of a payment
  method or related transaction) stay integers (``int64``, or ``Int64`` when some are missing), with
  ``<name>.units`` beside them: the amount in currency units (float), using the currency's ISO 4217
  exponent (``JPY`` 0, ``KWD`` 3, any other code 2; NaN without a currency). A child without a
  ``currency`` of its own uses its order's.
  ``costs[].amount`` and ``shopping_cart.items[].unit_price`` are already decimal and stay floats.
* ``created``, ``modified``, ``completed`` and ``completed_date`` become ``datetime64[us]`` (naive,
  as the API sends them; a value with a zone is converted to UTC). Unparsable values become NaT.
* ``status``, ``financial_status``, ``currency`` and ``payment_details.type`` of an order, and
  ``status``, ``type`` and ``currency`` of the child tables, are categoricals.
* Other whole numbers are ``int64`` (``Int64`` with gaps), true/false ``bool`` (``boolean`` with gaps),
  text ``str``; a field mixing kinds (a number here, text there) is an ``object`` column, and a list
  that is not a table of its own is kept as a Python list in an ``object`` column.
* Missing, null or empty lists give no child rows; entries of a list that are not objects are skipped.

Speed: pyarrow converts the dicts (or, in :func:`load_orders`, parses a JSON Lines file) into
columns in one pass, and everything after that works on whole columns, never row by row. Where
pyarrow cannot hold the data exactly (a field that is a number in one order and text in another, for
example), that part is built from plain Python lists instead, with the same result.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from html import escape
from operator import methodcaller
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from . import columns as stage_one  # columnar is looked up there, so a test can refuse pyarrow everywhere
from .columns import (
    CHILD_PATHS,
    KEYS,
    Raw,
    RawTable,
    Reread,
    Unsupported,
    arrow_or_none,
    check_types,
    is_struct_or_null,
    python_columns,
    raw_child_from_dicts,
    raw_tables_from_arrow,
    text_timestamps,
)
from .currencies import CURRENCY_EXPONENTS

__all__ = [
    "OrderFrames",
    "costs_frame",
    "items_frame",
    "load_orders",
    "order_frames",
    "orders_frame",
    "payment_methods_frame",
    "related_transactions_frame",
]

TABLES = ("orders", *CHILD_PATHS)

_CENTS = {
    "orders": frozenset({"amount", "amount_refunded"}),
    "payment_methods": frozenset({"amount"}),
    "related_transactions": frozenset({"amount"}),
}
_DECIMALS = {"costs": frozenset({"amount"}), "items": frozenset({"unit_price"})}
_CATEGORIES = {
    "orders": frozenset({"status", "financial_status", "currency", "payment_details.type"}),
    "costs": frozenset({"type", "status"}),
    "payment_methods": frozenset({"type", "status", "currency"}),
    "related_transactions": frozenset({"type", "status", "currency"}),
}
_TIMESTAMPS = frozenset({"created", "modified", "completed", "completed_date"})
_CODES = frozenset({"last4", "card_expiry_date", "reason_code", "response_code"})


_BLOCK_SIZE = 16 << 20  # pyarrow.json reads this much per thread at a time; faster here than its 1 MiB
_EMPTY: dict[str, Any] = {}
_NONE = type(None)


class SupportsOrderFrames(Protocol):
    """Anything that can give its stored orders as frames, like the journal."""

    def order_frames(self) -> OrderFrames: ...


@dataclass(frozen=True, eq=False)
class OrderFrames:
    """The tables of a batch of orders; see the module docstring for the column rules.

    Usage::

        >>> frames = order_frames({"order_id": "o-1", "costs": [{"amount": 0.29}, {"amount": 0.1}]})
        >>> frames
        OrderFrames(orders=(1, 2), costs=(2, 3), payment_methods=(0, 2), items=(0, 2), related_transactions=(0, 2))
        >>> frames.costs.groupby("order_id")["amount"].sum()
        order_id
        o-1    0.39
        Name: amount, dtype: float64
    """

    orders: pd.DataFrame
    costs: pd.DataFrame
    payment_methods: pd.DataFrame
    items: pd.DataFrame
    related_transactions: pd.DataFrame

    def __repr__(self) -> str:
        shapes = ", ".join(f"{f.name}={getattr(self, f.name).shape}" for f in fields(self))
        return f"OrderFrames({shapes})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>.{f.name}</code></td><td>{frame.shape[0]:,}</td><td>{frame.shape[1]}</td>"
            f"<td>{escape(_preview(frame.columns))}</td></tr>"
            for f in fields(self)
            for frame in [getattr(self, f.name)]
        )
        head = "<tr><th>table</th><th>rows</th><th>columns</th><th>first columns</th></tr>"
        return f"<table><caption>OrderFrames</caption><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _preview(columns: pd.Index, limit: int = 6) -> str:
    names = [str(name) for name in columns[:limit]]
    return ", ".join(names) + (", …" if len(columns) > limit else "")


# --- public functions -------------------------------------------------------------------------


def order_frames(orders: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> OrderFrames:
    """Flatten orders into five DataFrames that join on ``order_id`` and ``transaction_id``.

    Parameters
    ----------
    orders
        One order dict, or an iterable of them, as the API's ``data``. API envelopes
        (``{"success": true, "data": {...}}``) are unwrapped; an envelope whose ``data`` is a list
        gives each order in it, and one with ``success: false`` gives none.

    Returns
    -------
    OrderFrames
        ``.orders`` (one row per order), ``.costs`` (one row per ``costs[]`` entry),
        ``.payment_methods`` (one row per ``payment_methods[]`` entry), ``.items`` (one row per
        ``shopping_cart.items[]`` line) and ``.related_transactions`` (one row per
        ``related_transactions[]`` entry).

    Examples
    --------
    >>> frames = order_frames({"order_id": "o-1", "transaction_id": 42, "amount": 1000,
    ...                        "currency": "EUR", "costs": [{"amount": 0.29, "type": "SYSTEM"}]})
    >>> frames.orders[["order_id", "transaction_id", "amount", "amount.units"]]
      order_id transaction_id  amount  amount.units
    0      o-1             42    1000          10.0
    >>> frames.costs
      order_id transaction_id  amount    type
    0      o-1             42    0.29  SYSTEM
    """
    return OrderFrames(**_frames_from_dicts(_unwrap(orders), TABLES))


def orders_frame(orders: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per order: its fields, with nested objects flattened to dotted columns.

    Takes what :func:`order_frames` takes; the lists that have tables of their own (``costs``,
    ``payment_methods``, ``related_transactions``, ``shopping_cart.items``) are left out.

    Examples
    --------
    >>> orders_frame({"order_id": "o-1", "status": "completed", "customer": {"email": "a@b.nl"}})
      order_id transaction_id customer.email     status
    0      o-1            NaN         a@b.nl  completed
    """
    return _frames_from_dicts(_unwrap(orders), ("orders",))["orders"]


def costs_frame(orders: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per ``costs[]`` entry, with the order's ``order_id`` and ``transaction_id``.

    ``amount`` is already in currency units (a float, e.g. ``0.44``); the cost's own transaction
    is ``costs.transaction_id``.

    Examples
    --------
    >>> costs_frame({"order_id": "o-1", "transaction_id": 42,
    ...              "costs": [{"amount": 0.44, "transaction_id": 7, "type": "SYSTEM"}]})
      order_id transaction_id  amount costs.transaction_id    type
    0      o-1             42    0.44                    7  SYSTEM
    """
    return _frames_from_dicts(_unwrap(orders), ("costs",))["costs"]


def payment_methods_frame(orders: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per ``payment_methods[]`` entry, with the order's ``order_id`` and ``transaction_id``.

    Examples
    --------
    >>> payment_methods_frame({"order_id": "o-1", "transaction_id": 42, "payment_methods": [
    ...     {"type": "IDEAL", "amount": 1000, "currency": "EUR", "status": "completed"}]})
      order_id transaction_id  amount  amount.units currency     status   type
    0      o-1             42    1000          10.0      EUR  completed  IDEAL
    """
    return _frames_from_dicts(_unwrap(orders), ("payment_methods",))["payment_methods"]


def items_frame(orders: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per ``shopping_cart.items[]`` line, with the order's ``order_id`` and ``transaction_id``.

    Examples
    --------
    >>> items_frame({"order_id": "o-1", "shopping_cart": {"items": [
    ...     {"name": "Geometric Candle Holders", "unit_price": 90.0, "quantity": 5}]}})
      order_id transaction_id                      name  quantity  unit_price
    0      o-1            NaN  Geometric Candle Holders         5        90.0
    """
    return _frames_from_dicts(_unwrap(orders), ("items",))["items"]


def related_transactions_frame(orders: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per ``related_transactions[]`` entry (refunds, captures, chargebacks) of each order.

    The related transaction's own IDs are ``related_transactions.order_id`` and
    ``related_transactions.transaction_id``.

    Examples
    --------
    >>> refunds = related_transactions_frame({"order_id": "o-1", "currency": "EUR", "related_transactions": [
    ...     {"type": "refund", "order_id": "r-1", "transaction_id": 43, "amount": 500}]})
    >>> refunds[["order_id", "related_transactions.order_id", "type", "amount", "amount.units"]]
      order_id related_transactions.order_id    type  amount  amount.units
    0      o-1                           r-1  refund     500           5.0
    """
    return _frames_from_dicts(_unwrap(orders), ("related_transactions",))["related_transactions"]


def load_orders(source: str | os.PathLike[str] | SupportsOrderFrames) -> OrderFrames:
    """Read stored orders from a JSON Lines file into :class:`OrderFrames`.

    Each line holds one order or one API envelope. The file is parsed by pyarrow straight into
    columns, which is much faster and lighter than ``json.loads`` line by line; when pyarrow cannot
    represent the file exactly (a field that is a number on one line and text on another, for
    example) it is read line by line instead. Either way the result equals
    ``order_frames([json.loads(line) for line in lines])``.

    Parameters
    ----------
    source
        A path to a ``.jsonl`` file, or an object with an ``order_frames()`` method (the journal),
        whose frames are returned as they are.

    Raises
    ------
    ValueError
        A line is not valid JSON.

    Examples
    --------
    >>> frames = load_orders("data/orders.jsonl")  # doctest: +SKIP
    >>> frames.orders.groupby("status", observed=True)["amount.units"].sum()  # doctest: +SKIP
    """
    method = getattr(source, "order_frames", None)
    if callable(method):
        return method()  # type: ignore[no-any-return]
    path = os.fspath(source)  # type: ignore[arg-type]
    try:
        table, read_options = _read_table(path)
        try:
            return _frames_from_table(table)
        except Reread:
            # pyarrow took text that looks like a date for a timestamp in a column that must stay
            # text; read again with every timestamp typed as text.
            schema = pa.schema([f.with_type(text_timestamps(f.type)) for f in table.schema])
            del table
            parse_options = pa_json.ParseOptions(explicit_schema=schema)
            return _frames_from_table(pa_json.read_json(path, read_options=read_options, parse_options=parse_options))
    except (pa.ArrowException, Unsupported, Reread):
        # pyarrow could not read the file as one table of one type per field: read it line by line
        return order_frames(_read_jsonl(path))


def _read_table(path: str) -> tuple[Any, Any]:
    """The file as a pyarrow Table, and the read options that worked."""
    options = pa_json.ReadOptions(block_size=_BLOCK_SIZE)
    try:
        return pa_json.read_json(path, read_options=options), options
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
        # pyarrow parses the file in blocks, in parallel, and cannot widen a field that was null in
        # every line of one block to a list or an object in a later block ("JSON conversion to
        # list<...> is not supported"), nor read a line longer than a block. In one block it can.
        size = os.path.getsize(path)
        if (isinstance(exc, pa.ArrowInvalid) and "straddl" not in str(exc)) or size >= 2**31 - 1:
            raise
        options = pa_json.ReadOptions(block_size=size + 1)
        return pa_json.read_json(path, read_options=options), options


# --- input --------------------------------------------------------------------------------------


def _unwrap(orders: Any) -> list[dict[str, Any]]:
    """The order dicts in ``orders``, with API envelopes opened and anything that is not a dict skipped."""
    if isinstance(orders, Mapping):
        orders = [orders]
    elif isinstance(orders, (str, bytes)) or not isinstance(orders, Iterable):
        raise TypeError(f"expected an order dict or an iterable of them, got {type(orders).__name__}")
    elif not isinstance(orders, list):
        orders = list(orders)
    if set(map(type, orders)) <= {dict} and not any(map(_is_envelope, orders)):
        return orders  # the common case, checked without a Python loop
    found: list[dict[str, Any]] = []
    for item in orders:
        if not isinstance(item, Mapping):
            continue
        if "success" in item:  # an envelope; orders never have a "success" field
            if item["success"] is False:
                continue
            data = item.get("data")
            entries = data if isinstance(data, (list, tuple)) else (data,)
            found.extend(dict(entry) for entry in entries if isinstance(entry, Mapping))
        else:
            found.append(item if type(item) is dict else dict(item))
    return found


_is_envelope = methodcaller("__contains__", "success")


def _read_jsonl(path: str) -> list[Any]:
    with open(path, encoding="utf-8") as f:
        lines = []
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}: not valid JSON ({exc.msg})") from exc
    return lines


# --- from raw columns (stage 1, in columns.py) to frames ------------------------------------------


def _frames_from_dicts(orders: list[dict[str, Any]], tables: Iterable[str]) -> dict[str, pd.DataFrame]:
    tables = tuple(tables)
    struct = stage_one.columnar(orders) if "orders" in tables else None
    raws: dict[str, RawTable] = {}
    if struct is not None:
        raws = raw_tables_from_arrow(struct, tables, from_json=False)
    if "orders" in tables and "orders" not in raws:
        columns: dict[str, Raw] = {}
        # pyarrow already failed on (or could not flatten) the whole orders: go down a level at once
        python_columns(orders, (), columns, frozenset(CHILD_PATHS.values()), try_arrow=False)
        raws["orders"] = RawTable(columns, len(orders))
    for table in tables:
        if table not in raws:
            raws[table] = raw_child_from_dicts(orders, CHILD_PATHS[table])
    parents = _parent_columns(raws["orders"]) if "orders" in raws else _parent_columns_from_dicts(orders, tables)
    return _frames(raws, tables, parents)


def _frames_from_table(table: Any) -> OrderFrames:
    """The frames of a table read by pyarrow.json; raises Unsupported where that would differ."""
    names = set(table.column_names)
    if "success" in names:  # envelopes: keep the orders of those not marked success=false
        success = table.column("success").combine_chunks()
        if "data" not in names or success.null_count:
            raise Unsupported  # envelopes mixed with bare orders (or a null success: which is it?)
        data = table.column("data").combine_chunks()
        if not is_struct_or_null(data.type):
            raise Unsupported  # data that is a list of orders, or not an object at all
        keep = data.is_valid()
        if pa.types.is_boolean(success.type):
            keep = pc.and_(keep, pc.invert(pc.equal(success, False)))
        elif not pa.types.is_null(success.type):
            raise Unsupported
        struct = data.filter(keep)
    else:
        struct = table.to_struct_array().combine_chunks()
    del table
    if pa.types.is_null(struct.type):
        struct = pa.array([{}] * len(struct), type=pa.struct([]))
    check_types(struct.type, from_json=True)
    raws = raw_tables_from_arrow(struct, TABLES, from_json=True)
    if len(raws) < len(TABLES):
        raise Unsupported
    frames = _frames(raws, TABLES, _parent_columns(raws["orders"]))
    return OrderFrames(**frames)


# --- typing columns -----------------------------------------------------------------------------


def _frames(
    raws: dict[str, RawTable], tables: Iterable[str], parents: dict[str, pd.Series]
) -> dict[str, pd.DataFrame]:
    return {table: _frame(table, raws[table], parents) for table in tables}


def _frame(table: str, raw: RawTable, parents: dict[str, pd.Series]) -> pd.DataFrame:
    # pyarrow orders fields by when its threads met them, so sort: alphabetically, as the API lists keys
    columns = dict(sorted(raw.columns.items(), key=lambda item: item[0].split(".")))
    data: dict[str, pd.Series] = {}
    if table == "orders":
        for key in KEYS:
            columns.pop(key, None)
            data[key] = parents[key]
        currency = parents["currency"]
    else:
        for key in KEYS:
            data[key] = _take(parents[key], raw.parents)
        currency = None
        if table in _CENTS:
            currency = _take(parents["currency"], raw.parents)
            if "currency" in columns:  # a child's own currency wins over its order's
                own = _text(columns["currency"])
                currency = own.where(own.notna(), currency)
    cents, decimals, categories = _CENTS.get(table, ()), _DECIMALS.get(table, ()), _CATEGORIES.get(table, ())
    for name, values in columns.items():
        last = name.rpartition(".")[2]
        timestamp = last in _TIMESTAMPS
        if not timestamp and isinstance(values, pa.Array) and _has_timestamp(values.type):
            raise Reread
        if name in cents:
            data[name] = amount = _cents(values)
            data[f"{name}.units"] = _units(amount, currency)
        elif name in decimals:
            data[name] = _floats(values)
        elif name in categories:
            data[name] = _text(values).astype("category")
        elif timestamp:
            data[name] = _timestamps(values)
        elif last.endswith("_id") or last in _CODES:
            data[name] = _text(values)
        else:
            data[name] = _other(values)
    return pd.DataFrame(data, index=pd.RangeIndex(raw.rows), copy=False)


def _parent_columns(raw: RawTable) -> dict[str, pd.Series]:
    """Each order's keys and currency as text, for its child rows."""
    return {
        name: _text(raw.columns[name]) if name in raw.columns else _text([None] * raw.rows)
        for name in (*KEYS, "currency")
    }


def _parent_columns_from_dicts(orders: list[dict[str, Any]], tables: tuple[str, ...]) -> dict[str, pd.Series]:
    # As the orders table would have them: an object in a key field is flattened away, not a key.
    names = (*KEYS, "currency") if any(table in _CENTS for table in tables) else KEYS
    columns = {}
    for name in names:
        values = [order.get(name) for order in orders]
        if any(issubclass(kind, dict) for kind in set(map(type, values))):
            values = [None if isinstance(v, dict) else v for v in values]
        columns[name] = _text(values)
    return columns


def _take(series: pd.Series, index: Any) -> pd.Series:
    return pd.Series(series.array.take(index), copy=False)


def _has_timestamp(t: Any) -> bool:
    if pa.types.is_struct(t):
        return any(_has_timestamp(field.type) for field in t)
    if pa.types.is_list(t):
        return _has_timestamp(t.value_type)
    return bool(pa.types.is_timestamp(t))


def _text(values: Raw) -> pd.Series:
    """IDs, codes and categories: text as sent, numbers written out (``123`` -> ``"123"``)."""
    if isinstance(values, pa.Array):
        t = values.type
        if pa.types.is_string(t):
            return values.to_pandas()
        if t == pa.int64():
            return pc.cast(values, pa.string()).to_pandas()
        if pa.types.is_null(t):
            return pa.nulls(len(values), pa.string()).to_pandas()
        if _has_timestamp(t):
            raise Reread
        values = values.to_pylist()
    kinds = set(map(type, values))
    if kinds <= {int, _NONE}:
        try:
            return pc.cast(pa.array(values, type=pa.int64()), pa.string()).to_pandas()
        except (OverflowError, pa.ArrowException):  # integers beyond int64
            pass
    if not kinds <= {str, _NONE}:
        values = [_text_value(v) for v in values]
    try:
        return pa.array(values, type=pa.string()).to_pandas()
    except (pa.ArrowException, UnicodeEncodeError):  # e.g. lone surrogates
        return pd.Series(values, dtype=object)


def _text_value(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _numbers(values: Raw) -> Any:
    """An int64, float64 or null Array of the numbers; anything else (text, true/false) is null."""
    if isinstance(values, pa.Array):
        if values.type in (pa.int64(), pa.float64()) or pa.types.is_null(values.type):
            return values
        values = values.to_pylist()
    numbers = [v if type(v) is int or type(v) is float else None for v in values]
    try:
        return pa.array(numbers)
    except (OverflowError, pa.ArrowException):  # integers beyond int64
        return pa.array([None if v is None else _float(v) for v in numbers], type=pa.float64())


def _float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def _cents(values: Raw) -> pd.Series:
    """Whole numbers stay integers: ``int64``, or ``Int64`` when some are missing."""
    numbers = _numbers(values)
    if numbers.type == pa.int64():
        mapper = {pa.int64(): pd.Int64Dtype()}.get if numbers.null_count else None
        return numbers.to_pandas(types_mapper=mapper)
    floats = pc.cast(numbers, pa.float64()).to_numpy(zero_copy_only=False)
    present = ~np.isnan(floats)
    shown = floats[present]
    if not (np.all(shown == np.floor(shown)) and np.all(np.abs(shown) < 2.0**63)):
        return pd.Series(floats, copy=False)
    whole = np.where(present, floats, 0).astype(np.int64)
    if present.all():
        return pd.Series(whole, copy=False)
    return pd.Series(pd.arrays.IntegerArray(whole, ~present), copy=False)


def _units(amount: pd.Series, currency: pd.Series) -> pd.Series:
    """Minor units to currency units by the currency's exponent; NaN where the currency is missing."""
    codes, uniques = pd.factorize(currency)
    exponents = np.array([CURRENCY_EXPONENTS.get(code, 2) for code in uniques] + [np.nan], dtype=np.float64)
    return pd.Series(amount.to_numpy(dtype=np.float64, na_value=np.nan) / 10.0 ** exponents[codes], copy=False)


def _floats(values: Raw) -> pd.Series:
    """Decimal amounts (already in currency units) as float64; anything not a number is NaN."""
    return pc.cast(_numbers(values), pa.float64(), safe=False).to_pandas()


def _timestamps(values: Raw) -> pd.Series:
    """``2021-12-07T15:56:32`` and other ISO 8601 text as ``datetime64[us]``; the rest is NaT."""
    if isinstance(values, pa.Array):
        t = values.type
        if pa.types.is_timestamp(t):  # parsed by pyarrow.json, in UTC when the text had a zone
            return pc.cast(values, pa.timestamp("us")).to_pandas()
        if pa.types.is_string(t):
            return _parse_timestamps(values)
        values = values.to_pylist()
    return _parse_timestamps(pa.array([v if type(v) is str else None for v in values], type=pa.string()))


def _parse_timestamps(text: Any) -> pd.Series:
    try:  # pyarrow's parser, when it takes every value, agrees with pandas' and is faster
        return pc.cast(text, pa.timestamp("us")).to_pandas()
    except pa.ArrowException:
        parsed = pd.to_datetime(text.to_pandas(), format="ISO8601", errors="coerce", utc=True)
        return parsed.dt.tz_localize(None).astype("datetime64[us]")


def _other(values: Raw) -> pd.Series:
    """Any other field: the narrowest pandas dtype that holds it exactly, else ``object``."""
    if not isinstance(values, pa.Array):
        array = arrow_or_none(values)
        if array is None or pa.types.is_list(array.type):
            return pd.Series(values, dtype=object)
        values = array
    t = values.type
    if pa.types.is_list(t):
        return pd.Series(values.to_pylist(), dtype=object)
    mapper = None
    if values.null_count and t in (pa.int64(), pa.bool_()):
        mapper = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
    return values.to_pandas(types_mapper=mapper)
