"""Reading a journal back: the latest orders, an order's history, notifications and requests as DataFrames.

Every function takes ``fetch``, a callable running one SQL query and returning its rows, rather than the
connection itself: ``Journal`` passes one that holds its lock for the query alone, so building a DataFrame
never keeps a writer (a receiver storing a notification) waiting. The tables are described in
``msp_explore.journal``; ``Journal``'s reader methods are thin calls of these functions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from .frames import OrderFrames

Fetch = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]

NOTIFICATION_COLUMNS = [
    "order_id", "status", "financial_status", "verified", "duplicate", "reason", "method",
    "received_at", "timestamp", "environment", "id",
]  # fmt: skip
REQUEST_COLUMNS = [
    "method", "path", "status_code", "error_code", "duration_ms", "time", "environment", "body", "id",
]  # fmt: skip


def count_rows(fetch: Fetch) -> tuple[int, int, int]:
    """The number of stored requests, of distinct orders, and of stored notifications."""
    requests, orders, notifications = fetch(
        "SELECT (SELECT COUNT(*) FROM requests), "
        "(SELECT COUNT(*) FROM (SELECT 1 FROM orders GROUP BY environment, order_id)), "
        "(SELECT COUNT(*) FROM notifications)",
        (),
    )[0]
    return requests, orders, notifications


def read_orders(fetch: Fetch, environment: str | None = None) -> list[dict[str, Any]]:
    """The latest stored state of every order, oldest first (optionally of one environment only)."""
    where = "" if environment is None else "WHERE environment = ?"
    rows = fetch(
        f"SELECT body FROM orders WHERE id IN (SELECT MAX(id) FROM orders {where} "
        "GROUP BY environment, order_id) ORDER BY id",
        () if environment is None else (environment,),
    )
    return [json.loads(body) for (body,) in rows]


def read_history(fetch: Fetch, order_id: str, environment: str | None = None) -> list[dict[str, Any]]:
    """Every stored state of one order, oldest first."""
    sql, params = "SELECT body FROM orders WHERE order_id = ?", [str(order_id)]
    if environment is not None:
        sql, params = sql + " AND environment = ?", [*params, environment]
    return [json.loads(body) for (body,) in fetch(sql + " ORDER BY id", tuple(params))]


def read_order_frames(fetch: Fetch, environment: str | None = None) -> OrderFrames:
    """The latest orders as DataFrames (see ``frames.order_frames``)."""
    from .frames import order_frames  # lazily: pandas, which a receiver storing notifications never needs

    return order_frames(read_orders(fetch, environment))


def read_notification_rows(fetch: Fetch, order_id: str | None = None) -> list[dict[str, Any]]:
    """Stored notifications in full (raw ``body``, ``query``, cleaned ``headers``), oldest first."""
    columns = [*NOTIFICATION_COLUMNS, "query", "headers", "body"]
    where, params = ("", ()) if order_id is None else (" WHERE order_id = ?", (str(order_id),))
    rows = fetch(f"SELECT {', '.join(columns)} FROM notifications{where} ORDER BY id", params)
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    for record in records:
        record.update(query=json.loads(record["query"]), headers=json.loads(record["headers"]))
        record.update(verified=bool(record["verified"]), duplicate=bool(record["duplicate"]))
    return records


def notifications_frame(fetch: Fetch, include_duplicates: bool = True) -> pd.DataFrame:
    """One row per stored notification, oldest first; ``include_duplicates=False`` drops resends."""
    where = "" if include_duplicates else " WHERE NOT duplicate"
    rows = fetch(f"SELECT {', '.join(NOTIFICATION_COLUMNS)} FROM notifications{where} ORDER BY id", ())
    frame = _frame(rows, NOTIFICATION_COLUMNS, "received_at")
    return frame.astype({"verified": bool, "duplicate": bool})


def requests_frame(fetch: Fetch) -> pd.DataFrame:
    """One row per stored API request, oldest first."""
    rows = fetch(f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests ORDER BY id", ())
    return _frame(rows, REQUEST_COLUMNS, "time").astype(
        {"status_code": "Int64", "error_code": "Int64", "duration_ms": float}
    )


def export_tables(fetch: Fetch, directory: str | os.PathLike[str], format: str = "csv") -> list[Path]:
    """Write the orders, costs, payment_methods, notifications and requests tables to ``directory``.

    Parameters
    ----------
    format : "csv" or "parquet"; one file per table, named after it.

    Returns
    -------
    list of Path
        The files written, in the order above.
    """
    if format not in ("csv", "parquet"):
        raise ValidationError("format", f"must be 'csv' or 'parquet', not {format!r}")
    frames = read_order_frames(fetch)
    tables = {
        "orders": frames.orders,
        "costs": frames.costs,
        "payment_methods": frames.payment_methods,
        "notifications": notifications_frame(fetch),
        "requests": requests_frame(fetch),
    }
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = out / f"{name}.{format}"
        if format == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def _frame(rows: list[tuple[Any, ...]], columns: list[str], time_column: str) -> pd.DataFrame:
    import pandas as pd  # lazily: a webhook receiver storing notifications never needs pandas

    frame = pd.DataFrame.from_records(rows, columns=columns)
    # One fixed unit, so that an empty frame has the same dtype as a full one (pandas 3 infers it otherwise).
    frame[time_column] = pd.to_datetime(frame[time_column], utc=True, format="ISO8601").astype(
        "datetime64[us, UTC]"
    )
    return frame
