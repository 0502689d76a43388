"""Stage 1 of ``order_frames`` and ``load_orders``: each table's columns, raw.

A raw column holds one value per row: a pyarrow Array where pyarrow converted the values exactly,
else a Python list. ``frames`` types them by role (stage 2); the two kinds of raw column must give
the same frame, and the tests hold them to that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KEYS = ("order_id", "transaction_id")
# Where each child table's list lives in an order.
CHILD_PATHS: dict[str, tuple[str, ...]] = {
    "costs": ("costs",),
    "payment_methods": ("payment_methods",),
    "items": ("shopping_cart", "items"),
    "related_transactions": ("related_transactions",),
}
Raw = Any  # one table column before typing: a Python list or a pyarrow Array, one value per row
_EMPTY: dict[str, Any] = {}
_NONE = type(None)


class Unsupported(Exception):
    """pyarrow's columns would not equal the dicts here (e.g. keys it filled in); use Python lists."""


class Reread(Exception):
    """pyarrow read text that looks like a date as a timestamp, in a column that must stay text."""


def is_struct_or_null(t: Any) -> bool:
    return bool(pa.types.is_struct(t) or pa.types.is_null(t))


@dataclass
class RawTable:
    columns: dict[str, Raw]
    rows: int
    parents: Any = None  # child tables: numpy index of each row's order


def columnar(values: list[Any]) -> Any:
    """Stage 1's attempt at a whole level with pyarrow: the Array, or None to go on in Python."""
    return arrow_or_none(values)


def arrow_or_none(values: list[Any]) -> Any:
    """``pa.array(values)`` when pyarrow holds them exactly as JSON types, else None."""
    try:
        array = pa.array(values)
        check_types(array.type, from_json=False)
    except (pa.ArrowException, OverflowError, Unsupported):
        return None
    plan = _doubles(array.type)
    if plan is not None:
        # pyarrow quietly turns true/false into 1.0/0.0 in a field where it saw a decimal first;
        # look in Python at the rows where it could have happened.
        suspects = [values[row] for row in np.flatnonzero(_zeros_and_ones(array))]
        if bool in set(map(type, _at_doubles(suspects, plan))):
            return None
    return array


def _doubles(t: Any) -> Any:
    """Where the float64 fields are in type ``t``: True, a dict of field plans, a 1-tuple for lists, or None."""
    if t == pa.float64():
        return True
    if pa.types.is_struct(t):
        plans = {field.name: _doubles(field.type) for field in t}
        return {name: plan for name, plan in plans.items() if plan is not None} or None
    if pa.types.is_list(t):
        plan = _doubles(t.value_type)
        return None if plan is None else (plan,)
    return None


def _zeros_and_ones(array: Any) -> Any:
    """A mask of the rows holding a 0.0 or 1.0 anywhere among their decimals."""
    t = array.type
    if t == pa.float64():
        found = pc.is_in(array, value_set=pa.array([0.0, 1.0]))
        return pc.fill_null(found, False).to_numpy(zero_copy_only=False)
    mask = np.zeros(len(array), dtype=bool)
    if pa.types.is_struct(t):
        for field, child in zip(t, array.flatten(), strict=True):
            if _doubles(field.type) is not None:
                mask |= _zeros_and_ones(child)
    elif pa.types.is_list(t):
        inner = _zeros_and_ones(pc.list_flatten(array))
        mask[pc.list_parent_indices(array).to_numpy(zero_copy_only=False)[inner]] = True
    return mask


def _at_doubles(values: list[Any], plan: Any) -> list[Any]:
    """The Python values that pyarrow made float64, found in ``values`` by a plan from ``_doubles``."""
    if plan is True:
        return values
    if isinstance(plan, dict):
        found: list[Any] = []
        for key, inner in plan.items():
            found += _at_doubles([v.get(key) for v in values if isinstance(v, dict)], inner)
        return found
    return _at_doubles([item for v in values if isinstance(v, (list, tuple)) for item in v], plan[0])


def check_types(t: Any, *, from_json: bool) -> None:
    """Refuse types that JSON values do not give (Decimal, bytes, datetime from dicts ...)."""
    if pa.types.is_struct(t):
        for field in t:
            check_types(field.type, from_json=from_json)
    elif pa.types.is_list(t):
        check_types(t.value_type, from_json=from_json)
    elif not (
        pa.types.is_null(t)
        or pa.types.is_boolean(t)
        or t == pa.int64()
        or t == pa.float64()
        or pa.types.is_string(t)
        or (from_json and pa.types.is_timestamp(t))
    ):
        raise Unsupported


def raw_tables_from_arrow(struct: Any, tables: Iterable[str], *, from_json: bool) -> dict[str, RawTable]:
    """Raw tables from the orders as one StructArray; a table that needs Python lists is left out."""
    raws: dict[str, RawTable] = {}
    for table in tables:
        columns: dict[str, Raw] = {}
        try:
            if table == "orders":
                _arrow_columns(struct, (), columns, frozenset(CHILD_PATHS.values()), from_json)
                raws[table] = RawTable(columns, len(struct))
            else:
                entries, parents = _arrow_entries(struct, CHILD_PATHS[table])
                _arrow_columns(entries, (), columns, frozenset(), from_json)
                raws[table] = RawTable(_rename_keys(columns, CHILD_PATHS[table]), len(entries), parents)
        except (Unsupported, pa.ArrowException):  # pyarrow has bugs of its own around empty objects
            pass
    return raws


def _arrow_columns(array: Any, path: tuple[str, ...], out: dict[str, Raw], skip: frozenset, from_json: bool) -> None:
    """Add the leaf columns of ``array`` (flattening structs) under ``path``."""
    t = array.type
    if pa.types.is_struct(t):
        for field, child in zip(t, array.flatten(), strict=True):
            if path + (field.name,) not in skip:
                _arrow_columns(child, path + (field.name,), out, skip, from_json)
        return
    if not path:  # no orders (or entries) at all: pyarrow calls that a null array
        return
    if not _plain(array) or (from_json and _huge_doubles(array)):
        raise Unsupported
    out[_name(path)] = array


def _plain(array: Any) -> bool:
    """Whether ``array.to_pylist()`` gives back the JSON values: no key was filled in with None.

    pyarrow gives every object in a list all the keys seen in any of them; a missing key and a
    null are the same to it. Only when no value is null can no key have been missing.
    """
    t = array.type
    if pa.types.is_list(t):
        return _plain(array.flatten())
    if pa.types.is_struct(t):
        valid = array.is_valid()
        for index in range(t.num_fields):
            child = array.field(index)
            if child.null_count and pc.any(pc.and_(valid, child.is_null())).as_py():
                return False
            if not _plain(child):
                return False
    return True


def _huge_doubles(array: Any) -> bool:
    """Whether a JSON file's decimals include numbers so large that they may have been integers.

    pyarrow reads integers beyond int64, and integers in a field that also has decimals, as floats,
    which hold integers exactly only up to 2**53; ``json.loads`` keeps them exact.
    """
    t = array.type
    if pa.types.is_list(t):
        return _huge_doubles(array.flatten())
    if pa.types.is_struct(t):
        return any(_huge_doubles(array.field(i)) for i in range(t.num_fields))
    if t == pa.float64() and len(array):
        return bool(pc.any(pc.greater_equal(pc.abs(array), 2.0**53)).as_py())
    return False


def _arrow_entries(struct: Any, path: tuple[str, ...]) -> tuple[Any, Any]:
    """The objects in the list at ``path`` of each order, and the index of each one's order."""
    array = struct
    for name in path:
        index = array.type.get_field_index(name) if pa.types.is_struct(array.type) else -1
        if index < 0:
            return pa.array([], type=pa.struct([])), np.zeros(0, dtype=np.int64)
        array = array.flatten()[index]
    if not (pa.types.is_list(array.type) and pa.types.is_struct(array.type.value_type)):
        # null, not a list, or a list of something else than objects: no rows
        return pa.array([], type=pa.struct([])), np.zeros(0, dtype=np.int64)
    entries = pc.list_flatten(array)
    parents = pc.list_parent_indices(array)
    if entries.null_count:
        keep = entries.is_valid()
        entries, parents = entries.filter(keep), parents.filter(keep)
    return entries, parents.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def python_columns(
    values: list[Any], path: tuple[str, ...], out: dict[str, Raw], skip: frozenset, *, try_arrow: bool = True
) -> None:
    """Add the columns of ``values`` (one per row) under ``path``, a level at a time.

    Each level is first tried whole with pyarrow; only where that fails (mixed kinds of value)
    does it go down one level in Python, so one odd field costs little.
    """
    if try_arrow:
        array = columnar(values)
        if array is not None:
            found: dict[str, Raw] = {}
            try:
                _arrow_columns(array, path, found, skip, False)
            except (Unsupported, pa.ArrowException):  # pyarrow has bugs of its own around empty objects
                pass
            else:
                out.update(found)
                return
    if not values:
        return
    kinds = set(map(type, values))
    if not any(issubclass(kind, dict) for kind in kinds):
        out[_name(path)] = values
        return
    if any(not issubclass(kind, dict) and kind is not _NONE for kind in kinds):
        # Objects in some rows, plain values in others: the plain ones keep the field's own column.
        out[_name(path)] = [None if isinstance(v, dict) else v for v in values]
    dicts = [v if isinstance(v, dict) else _EMPTY for v in values]
    for key in _all_keys(dicts):
        if path + (key,) not in skip:
            python_columns([d.get(key) for d in dicts], path + (key,), out, skip)


def _all_keys(dicts: list[dict[str, Any]]) -> list[Any]:
    return sorted(set().union(*dicts), key=str)


def raw_child_from_dicts(orders: list[dict[str, Any]], path: tuple[str, ...]) -> RawTable:
    lists = [order.get(path[0]) for order in orders]
    for name in path[1:]:
        lists = [v.get(name) if isinstance(v, dict) else None for v in lists]
    array = columnar(lists)
    if array is not None:
        try:
            holder = pa.StructArray.from_arrays([array], names=[path[-1]])
            entries, parents = _arrow_entries(holder, path[-1:])
            columns: dict[str, Raw] = {}
            _arrow_columns(entries, (), columns, frozenset(), False)
            return RawTable(_rename_keys(columns, path), len(entries), parents)
        except (Unsupported, pa.ArrowException):  # pyarrow has bugs of its own around empty objects
            pass
    entries_list: list[dict[str, Any]] = []
    parent_list: list[int] = []
    for index, value in enumerate(lists):
        if isinstance(value, (list, tuple)):
            for entry in value:
                if isinstance(entry, dict):
                    entries_list.append(entry)
                    parent_list.append(index)
    columns = {}
    if entries_list:
        python_columns(entries_list, (), columns, frozenset())
    return RawTable(_rename_keys(columns, path), len(entries_list), np.array(parent_list, dtype=np.int64))


def _rename_keys(columns: dict[str, Raw], path: tuple[str, ...]) -> dict[str, Raw]:
    """A child's own ``order_id``/``transaction_id`` become ``<list path>.<key>``: the keys are the order's."""
    return {(_name(path + (name,)) if name in KEYS else name): raw for name, raw in columns.items()}


def _name(path: tuple[Any, ...]) -> str:
    return ".".join(map(str, path))


def text_timestamps(t: Any) -> Any:
    """``t`` with every timestamp type made text, for reading a JSON file again."""
    if pa.types.is_timestamp(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(text_timestamps(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(text_timestamps(t.value_type)))
    return t
