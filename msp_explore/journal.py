"""A local SQLite journal of every order, request and webhook notification seen while exploring.

Three tables, one row per event, nothing ever updated in place:

    requests        one row per API call a client made (never the API key)
    orders          one row per order object received; the newest row per (environment, order_id)
                    is that order's latest state, the rest is its history
    notifications   one row per webhook notification received, verified or not, with the
                    ``Auth``/``Authorization``/``api_key``/cookie headers removed

Durability: the database runs in WAL mode with ``synchronous=FULL``, so every ``record_*`` call
returns only after its row is committed and the WAL is fsynced. A receiver acknowledges a notification
once it is stored, and MultiSafepay never resends an acknowledged one, so a stored row must survive a
killed process and a power cut alike. NORMAL would survive only the former.

Group commit: the fsync, not the SQL, is most of a write's cost, so threads writing at the same time
share one. A caller that finds no write in progress writes its row at once, in its own transaction.
Callers arriving while a write is in progress queue their rows; when it ends, the first of them writes
the whole queue in one transaction, in arrival order, and commits once. Each caller returns only after the
commit that holds its row; if that transaction fails, every caller in it gets the exception.

This module writes; ``msp_explore.journal_read`` reads back (orders, history, DataFrames, export), and
``Journal``'s reader methods call it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .encoding import compact_json
from .errors import MspError, ValidationError
from .journal_read import (
    count_rows,
    export_tables,
    notifications_frame,
    read_history,
    read_notification_rows,
    read_order_frames,
    read_orders,
    requests_frame,
)

if TYPE_CHECKING:
    import pandas as pd

    from .frames import OrderFrames

_T = TypeVar("_T")

SCHEMA_VERSION = 1
DEFAULT_PATH = "data/journal.sqlite"
BUSY_TIMEOUT = 10.0  # seconds another process (a receiver, a second notebook) may hold the write lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, environment TEXT NOT NULL, method TEXT NOT NULL,
    path TEXT NOT NULL, body TEXT, status_code INTEGER, duration_ms REAL, error_code INTEGER);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, environment TEXT NOT NULL, order_id TEXT NOT NULL,
    transaction_id TEXT, status TEXT, financial_status TEXT, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_by_order ON orders (environment, order_id, id);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, environment TEXT NOT NULL, order_id TEXT,
    status TEXT, financial_status TEXT, timestamp TEXT, method TEXT NOT NULL, query TEXT NOT NULL,
    headers TEXT NOT NULL, body TEXT, body_sha256 TEXT, verified INTEGER NOT NULL, reason TEXT,
    duplicate INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS notifications_by_body ON notifications (environment, order_id, body_sha256);
"""

# Compared after lower-casing and mapping "_" to "-", so "API_KEY", "Api-Key" and "api_key" all match.
_SECRET_HEADERS = frozenset(
    {"auth", "authorization", "proxy-authorization", "api-key", "x-api-key", "cookie", "set-cookie"}
)
# What a new notification may be a copy of: the earlier verified ones of its order in the same state
# (equal bodies mean equal status and financial_status). Usually there are none, and nothing is compared.
_SAME_STATE = (
    "SELECT body FROM notifications WHERE environment = ? AND order_id IS ? AND status IS ? "
    "AND financial_status IS ? AND verified"
)
_INSERT_NOTIFICATION = (
    "INSERT INTO notifications (received_at, environment, order_id, status, financial_status, timestamp, method, "
    "query, headers, body, body_sha256, verified, reason, duplicate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _canonical_json(value: Any) -> str:  # for comparing bodies
    return compact_json(value, sort_keys=True)


def _column_json(value: Any) -> str:  # query and headers as stored: plain strings, whatever came
    return compact_json({str(k): str(v) for k, v in value.items()})


def _same_body(earlier: str | None, text: str | None, order: dict[str, Any]) -> bool:
    """Whether two bodies are one: equal as text (a retry), or as JSON (the same content, reformatted)."""
    if earlier == text:
        return True
    if not order or not earlier:
        return False
    try:
        return _canonical_json(json.loads(earlier)) == _canonical_json(order)  # so that true is not 1
    except ValueError:
        return False


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _to_text(body: Any) -> str | None:
    """Store strings as given, bytes as UTF-8 text, and anything else as compact JSON."""
    if body is None or isinstance(body, str):
        return body
    if isinstance(body, (bytes, bytearray)):
        return bytes(body).decode("utf-8", errors="replace")
    return compact_json(body)


def _first(value: Any) -> Any:
    # parse_qs-style mappings hold lists; werkzeug's MultiDict already yields the first value.
    return value[0] if isinstance(value, (list, tuple)) and value else value


def _is_secret_key(key: str) -> bool:
    return key.lower().replace("-", "_") == "api_key"


def _strip_api_key(path: str) -> str:
    """Return ``path`` with any ``api_key`` query parameter removed (case-insensitive)."""
    parts = urlsplit(path)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(_is_secret_key(key) for key, _ in pairs):
        return path  # leave the query exactly as written when there is nothing to remove
    query = urlencode([(key, value) for key, value in pairs if not _is_secret_key(key)])
    return urlunsplit(parts._replace(query=query))


def _auth_timestamp(auth: str) -> str | None:
    """The ``ts`` part of a base64 ``ts:signature`` Auth header, or None if it is not one."""
    try:
        ts = base64.b64decode(auth.strip(), validate=True).decode("ascii").split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return ts if ts.isdigit() else None


class _Write(Generic[_T]):
    """One caller's part of a group commit: what to run in the transaction, then its outcome."""

    __slots__ = ("work", "done", "result", "error", "lead", "_wakeup")

    def __init__(self, work: Callable[[sqlite3.Connection], _T]) -> None:
        self.work = work
        self.done = False  # committed, or failed: result or error is set
        self.result: _T | None = None
        self.error: BaseException | None = None
        self.lead = False  # its caller is to write the queue, this write included
        # Each waiting caller sleeps on a lock of its own, so a commit wakes exactly the callers it wrote
        # and the one that writes next; a shared Condition would wake them all, onto one contended lock.
        self._wakeup = threading.Lock()
        self._wakeup.acquire()

    def wait(self) -> None:
        self._wakeup.acquire()

    def wake(self) -> None:
        self._wakeup.release()


class Journal:
    """An append-only SQLite record of orders, API requests and webhook notifications.

    One connection is shared by all threads behind a lock: SQLite serialises writers anyway, and a
    Python lock hands over at once where SQLite's busy handler would sleep and poll. Concurrent writes
    are committed in groups (see the module docstring).

    Usage::

        with Journal() as journal:  # data/journal.sqlite, or $MSP_JOURNAL
            journal.record_order(client.get_order("order-1"))
            journal.notifications_frame(include_duplicates=False)
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            from .config import Settings

            path = Settings.from_env().journal or DEFAULT_PATH
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # the connection
        self._queue_lock = threading.Lock()  # the two below
        self._queue: list[_Write[Any]] = []  # writes waiting for the next commit, in arrival order
        self._writing = False  # a caller is writing (or about to write) a batch
        # isolation_level=None is autocommit: each statement outside BEGIN is committed when it returns.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")  # two processes may create a new journal at once
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise MspError(
                    f"{self.path} has schema version {version}; this msp_explore reads up to "
                    f"{SCHEMA_VERSION}. Upgrade msp_explore or use another journal file."
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __repr__(self) -> str:
        if self._conn is None:
            return f"<Journal {str(self.path)!r} closed>"
        requests, orders, notifications = count_rows(self._fetch)
        return (
            f"<Journal {str(self.path)!r} requests={requests} orders={orders} notifications={notifications}>"
        )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise MspError(f"journal {self.path} is closed")
        return self._conn

    def _write(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` in a write transaction, shared with concurrent writes; return its result once committed."""
        write: _Write[_T] = _Write(work)
        with self._queue_lock:
            self._queue.append(write)
            write.lead = not self._writing  # nobody writing: no one to wait for
            self._writing = True
        if not write.lead:
            try:
                write.wait()  # until the commit holding this write is over, or this caller is to write next
            except BaseException:  # interrupted (KeyboardInterrupt): do not leave the queue waiting on us
                self._withdraw(write)
                raise
        if write.lead:
            self._write_queue(write)
        if write.error is not None:
            raise write.error
        return write.result  # type: ignore[return-value]  # set by _commit, as done is

    def _write_queue(self, own: _Write[Any]) -> None:
        """Commit every queued write in one transaction, wake their callers, and hand over to the next."""
        batch: list[_Write[Any]] = []
        try:
            with self._queue_lock:
                batch, self._queue = self._queue, []
            self._commit(batch)  # hands every write its result or the error; raises nothing
        except BaseException as exc:  # interrupted before the commit began: nothing of the batch is written
            for write in batch:
                if not write.done:
                    write.error, write.done = exc, True
            raise
        finally:
            self._hand_over()
            for write in batch:
                if write is not own:
                    write.wake()

    def _hand_over(self) -> None:
        """Let the first caller still queued write the next batch; or, with none, let the next caller write."""
        with self._queue_lock:
            following = self._queue[0] if self._queue else None
            if following is None:
                self._writing = False
            else:
                following.lead = True
        if following is not None:
            following.wake()  # first: the disk waits for no one while the others are woken

    def _withdraw(self, write: _Write[Any]) -> None:
        """Take an interrupted caller's write out of the queue, and pass the lead on if it had just been given it."""
        with self._queue_lock:
            if write not in self._queue:
                return  # already being written; its commit will wake nobody, harmlessly
            self._queue.remove(write)
            handed_over = write.lead
        if handed_over:  # it was to write the next batch: someone else must
            self._hand_over()

    def _commit(self, batch: list[_Write[Any]]) -> None:
        """Write ``batch`` in one transaction (one fsync) and hand every write its result or the error."""
        try:
            with self._lock:
                conn = self._connection()
                # IMMEDIATE takes the write lock before anything is read, so two journals (threads or
                # processes) checking for an earlier copy of the same resend cannot both find none.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    results = [write.work(conn) for write in batch]
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # a failed COMMIT may already have ended it
                        conn.execute("ROLLBACK")
                    raise
        except BaseException as exc:  # the leader re-raises it too, as its own write's error
            for write in batch:
                write.error = exc
        else:
            for write, result in zip(batch, results, strict=True):
                write.result = result
        finally:
            for write in batch:
                write.done = True

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        sql, params = _insert_sql(table, row)

        def insert(conn: sqlite3.Connection) -> int:
            rowid = conn.execute(sql, params).lastrowid
            assert rowid is not None
            return rowid

        return self._write(insert)

    def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def record_request(
        self,
        method: str,
        path: str,
        *,
        status_code: int | None,
        body: Any = None,
        duration_ms: float | None = None,
        error_code: int | None = None,
        environment: str = "sandbox",
    ) -> int:
        """Store one API call and return its row id.

        Parameters
        ----------
        path : the URL path and query; an ``api_key`` query parameter is removed before storing.
        status_code : the HTTP status, or None when no response arrived.
        body : the request body, a dict (stored as JSON) or text.
        error_code : MultiSafepay's ``error_code`` from an error response.
        """
        row = {
            "time": _now(), "environment": environment, "method": method.upper(),
            "path": _strip_api_key(path), "body": _to_text(body), "status_code": status_code,
            "duration_ms": duration_ms, "error_code": error_code,
        }  # fmt: skip
        return self._insert("requests", row)

    def record_order(self, order: dict[str, Any], *, environment: str = "sandbox") -> int:
        """Store an order object (the ``data`` of a get/create order response) and return its row id.

        Raises
        ------
        ValidationError
            if ``order`` is not a dict with an ``order_id``.
        """
        if not isinstance(order, dict) or order.get("order_id") in (None, ""):
            envelope = isinstance(order, dict) and "data" in order
            hint = " (pass the response's 'data', not the whole envelope)" if envelope else ""
            raise ValidationError("order_id", f"the order has no order_id to journal it under{hint}")
        transaction_id = order.get("transaction_id")
        row = {
            "time": _now(), "environment": environment, "order_id": str(order["order_id"]),
            "transaction_id": None if transaction_id is None else str(transaction_id),
            "status": order.get("status"), "financial_status": order.get("financial_status"),
            "body": _to_text(order),
        }  # fmt: skip
        return self._insert("orders", row)

    def record_notification(
        self,
        *,
        order_id: str | None,
        body: str | bytes | dict[str, Any] | None,
        query: Mapping[str, Any],
        headers: Mapping[str, Any],
        method: str = "POST",
        verified: bool,
        reason: str | None = None,
        environment: str = "sandbox",
        parsed: Any = None,
    ) -> dict[str, Any]:
        """Store one received notification and return the stored row.

        A notification is a ``duplicate`` when an earlier *verified* notification for the same
        environment and order had the same body content (compared as JSON when it parses, so key
        order and spacing do not matter): a retry or a manual resend of something already counted.
        It is stored all the same, flagged, so analyses can leave it out. Bodyless (GET) notifications
        carry no state and are never duplicates.

        Parameters
        ----------
        order_id : the ``transactionid`` query parameter; if None, taken from the query or the body.
        body : the raw body as received: stored as given, even if it is not JSON or was truncated.
        query, headers : as received; secret headers and any ``api_key`` parameter are dropped.
        verified : whether the ``Auth`` signature checked out; ``reason`` says why not.
        parsed : ``body`` already parsed as JSON, if the caller has done so (a receiver must, to reject
            non-JSON bodies); saves parsing it again. Default: parse ``body`` here.

        Returns
        -------
        dict
            The stored columns, with ``id``, ``duplicate`` and the cleaned ``query`` and ``headers``.
        """
        text = _to_text(body)
        if parsed is None:
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
        order = parsed if isinstance(parsed, dict) else {}
        clean_query = {k: _first(v) for k, v in dict(query).items() if not _is_secret_key(k)}
        headers = dict(headers)
        clean_headers = {k: v for k, v in headers.items() if k.lower().replace("_", "-") not in _SECRET_HEADERS}
        auth = next((v for k, v in headers.items() if k.lower() == "auth" and isinstance(v, str)), None)
        timestamp = clean_query.get("timestamp") or (_auth_timestamp(auth) if auth else None)
        if order_id is None:
            order_id = clean_query.get("transactionid") or order.get("order_id")
        row: dict[str, Any] = {
            "received_at": _now(), "environment": environment,
            "order_id": None if order_id is None else str(order_id),
            "status": order.get("status"), "financial_status": order.get("financial_status"),
            "timestamp": None if timestamp is None else str(timestamp), "method": method.upper(),
            "query": clean_query, "headers": clean_headers, "body": text, "verified": bool(verified),
            "reason": reason,
        }  # fmt: skip
        body_sha256 = hashlib.sha256(text.encode()).hexdigest() if text else None
        # Everything but ``duplicate`` is known now; it is known only inside the transaction, so it goes last.
        params = (
            row["received_at"], environment, row["order_id"], row["status"], row["financial_status"],
            row["timestamp"], row["method"], _column_json(clean_query), _column_json(clean_headers), text,
            body_sha256, row["verified"], reason,
        )  # fmt: skip
        same_state = (environment, row["order_id"], row["status"], row["financial_status"])

        def insert(conn: sqlite3.Connection) -> dict[str, Any]:
            # In the group's transaction, after the rows queued before this one: a copy earlier in the
            # same group counts as an earlier copy.
            earlier = conn.execute(_SAME_STATE, same_state).fetchall() if text else []
            duplicate = any(_same_body(body, text, order) for (body,) in earlier)
            rowid = conn.execute(_INSERT_NOTIFICATION, (*params, duplicate)).lastrowid
            return {**row, "duplicate": duplicate, "id": rowid}

        return self._write(insert)

    def orders(self, environment: str | None = None) -> list[dict[str, Any]]:
        """The latest stored state of every order, oldest first (optionally of one environment only)."""
        return read_orders(self._fetch, environment)

    def history(self, order_id: str, environment: str | None = None) -> list[dict[str, Any]]:
        """Every stored state of one order, oldest first."""
        return read_history(self._fetch, order_id, environment)

    def order_frames(self, environment: str | None = None) -> OrderFrames:
        """The latest orders as DataFrames (see ``frames.order_frames``)."""
        return read_order_frames(self._fetch, environment)

    def notification_rows(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """Stored notifications in full (raw ``body``, ``query``, cleaned ``headers``), oldest first."""
        return read_notification_rows(self._fetch, order_id)

    def notifications_frame(self, include_duplicates: bool = True) -> pd.DataFrame:
        """One row per stored notification, oldest first; ``include_duplicates=False`` drops resends."""
        return notifications_frame(self._fetch, include_duplicates)

    def requests_frame(self) -> pd.DataFrame:
        """One row per stored API request, oldest first."""
        return requests_frame(self._fetch)

    def export(self, directory: str | os.PathLike[str], format: str = "csv") -> list[Path]:
        """Write the tables to ``directory`` as csv or parquet files (see ``journal_read.export_tables``)."""
        return export_tables(self._fetch, directory, format)


def _insert_sql(table: str, row: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    columns = ", ".join(row)
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
