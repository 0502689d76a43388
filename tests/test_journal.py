from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from conftest import TUTORIAL_ORDER

from msp_explore.errors import MspError, ValidationError
from msp_explore.journal import SCHEMA_VERSION, Journal, _Write
from msp_explore.sandbox import Sandbox
from msp_explore.webhooks import encode_body, sign_notification

KEY = "journal-test-key"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite") as journal:
        yield journal


def order(order_id: str = "order-1", status: str = "completed", **fields: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "transaction_id": 1000,
        "status": status,
        "financial_status": status,
        **fields,
    }


def notify(journal: Journal, body: Any, *, verified: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Store a notification the way a receiver would: signed POST with transactionid and timestamp."""
    raw = encode_body(body) if isinstance(body, dict) else body
    order_id = body.get("order_id") if isinstance(body, dict) else kwargs.pop("order_id", None)
    query = kwargs.pop("query", {"transactionid": order_id, "timestamp": "1767268800"})
    headers = kwargs.pop("headers", {"Auth": sign_notification(raw, KEY, 1767268800), "User-Agent": "test"})
    return journal.record_notification(
        order_id=order_id, body=raw, query=query, headers=headers, verified=verified, **kwargs
    )


# -- opening ---------------------------------------------------------------------------------------


def test_default_path_is_data_journal_under_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Journal() as journal:
        assert journal.path == Path("data/journal.sqlite")
    assert (tmp_path / "data" / "journal.sqlite").is_file()


def test_msp_journal_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSP_JOURNAL", str(tmp_path / "nested" / "dir" / "j.sqlite"))
    with Journal() as journal:
        journal.record_order(order())
    assert (tmp_path / "nested" / "dir" / "j.sqlite").is_file()


def test_schema_is_versioned_and_in_wal_mode(journal: Journal) -> None:
    with closing(sqlite3.connect(journal.path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"requests", "orders", "notifications"} <= tables


def test_reopening_keeps_rows(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.record_order(order())
    with Journal(tmp_path / "j.sqlite") as journal:
        assert journal.orders() == [order()]


def test_a_journal_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "j.sqlite")) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(MspError, match="schema version"):
        Journal(tmp_path / "j.sqlite")


def test_close_is_idempotent_and_use_after_close_is_an_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.close()
    journal.close()
    assert "closed" in repr(journal)
    with pytest.raises(MspError, match="closed"):
        journal.record_order(order())


def test_repr_shows_path_and_counts(journal: Journal) -> None:
    journal.record_order(order("a"))
    journal.record_order(order("a", "shipped"))
    journal.record_order(order("b"))
    journal.record_request("GET", "/v1/json/orders/a", status_code=200)
    assert repr(journal) == f"<Journal {str(journal.path)!r} requests=1 orders=2 notifications=0>"


# -- orders ----------------------------------------------------------------------------------------


def test_every_response_is_history_and_the_newest_is_the_latest_state(journal: Journal) -> None:
    journal.record_order(order("a", "initialized"))
    journal.record_order(order("b", "initialized"))
    journal.record_order(order("a", "completed"))
    journal.record_order(order("a", "initialized"), environment="test")  # same id, other environment

    assert [(o["order_id"], o["status"]) for o in journal.orders()] == [
        ("b", "initialized"),
        ("a", "completed"),
        ("a", "initialized"),
    ]
    assert [o["status"] for o in journal.orders("sandbox")] == ["initialized", "completed"]
    assert [o["status"] for o in journal.history("a")] == ["initialized", "completed", "initialized"]
    assert [o["status"] for o in journal.history("a", environment="sandbox")] == ["initialized", "completed"]
    assert journal.history("missing") == []


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ({"status": "completed"}, "no order_id"),
        ({"order_id": "", "status": "completed"}, "no order_id"),
        ({"success": True, "data": order()}, "not the whole envelope"),
        ([order()], "no order_id"),
    ],
)
def test_an_order_without_order_id_is_a_clear_error(journal: Journal, bad: Any, hint: str) -> None:
    with pytest.raises(ValidationError, match=hint) as info:
        journal.record_order(bad)
    assert info.value.field == "order_id"
    assert isinstance(info.value, ValueError)


# -- requests --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        ("/v1/json/orders?api_key=S3CRET", "/v1/json/orders"),
        ("/v1/json/transactions?limit=5&API_KEY=S3CRET&after=x", "/v1/json/transactions?limit=5&after=x"),
        ("/v1/json/gateways?include=coupons", "/v1/json/gateways?include=coupons"),
        ("https://testapi.multisafepay.com/v1/json/orders/o?api_key=S3CRET", "https://testapi.multisafepay.com/v1/json/orders/o"),
    ],
)  # fmt: skip
def test_request_paths_are_stored_without_the_api_key(journal: Journal, path: str, stored: str) -> None:
    journal.record_request("get", path, status_code=200)
    assert journal.requests_frame()["path"].tolist() == [stored]


def test_requests_frame(journal: Journal) -> None:
    journal.record_request(
        "POST", "/v1/json/orders", status_code=200, body={"order_id": "a"}, duration_ms=12.5
    )
    journal.record_request("GET", "/v1/json/orders/x", status_code=404, error_code=1006, environment="test")
    frame = journal.requests_frame()
    assert frame[["method", "status_code", "error_code", "environment"]].to_dict("records") == [
        {"method": "POST", "status_code": 200, "error_code": None, "environment": "sandbox"},
        {"method": "GET", "status_code": 404, "error_code": 1006, "environment": "test"},
    ]
    assert str(frame["error_code"].dtype) == str(frame["status_code"].dtype) == "Int64"
    assert json.loads(frame["body"][0]) == {"order_id": "a"}
    assert frame["duration_ms"].tolist()[0] == 12.5
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"


# -- notifications ---------------------------------------------------------------------------------


def test_a_notification_is_parsed_and_returned_as_stored(journal: Journal) -> None:
    row = notify(journal, order("a", "completed"))
    assert row["id"] == 1
    assert row["duplicate"] is False and row["verified"] is True
    assert (row["order_id"], row["status"], row["financial_status"]) == ("a", "completed", "completed")
    assert row["timestamp"] == "1767268800"
    assert row["headers"] == {"User-Agent": "test"}
    assert row["body"] == encode_body(order("a", "completed")).decode()


def test_timestamp_comes_from_auth_and_order_id_from_body_when_query_lacks_them(journal: Journal) -> None:
    body = encode_body(order("from-body"))
    row = journal.record_notification(
        order_id=None,
        body=body,
        query={},
        headers={"auth": sign_notification(body, KEY, 1700000000)},
        verified=True,
    )
    assert (row["order_id"], row["timestamp"]) == ("from-body", "1700000000")
    row = journal.record_notification(
        order_id=None,
        body=None,
        query={"transactionid": ["from-query"]},
        headers={},
        method="get",
        verified=False,
    )
    assert (row["order_id"], row["method"], row["status"], row["timestamp"]) == (
        "from-query",
        "GET",
        None,
        None,
    )


@pytest.mark.parametrize(
    "body", ["not json at all", '{"order_id":"a","status":"compl', "[1, 2]", "\u00e9\u20ac"]
)
def test_non_json_and_truncated_bodies_are_stored_as_given(journal: Journal, body: str) -> None:
    row = notify(journal, body, order_id="a", verified=False, reason="signature")
    assert row["body"] == body and row["status"] is None
    with closing(sqlite3.connect(journal.path)) as conn:
        assert conn.execute("SELECT body, reason FROM notifications").fetchone() == (body, "signature")


def test_resends_of_a_verified_notification_are_flagged_duplicate(journal: Journal) -> None:
    paid = order("a", "completed")
    assert notify(journal, paid)["duplicate"] is False
    assert notify(journal, paid)["duplicate"] is True  # MultiSafepay's retry: same body, new timestamp
    reordered = json.dumps(dict(reversed(list(paid.items()))), indent=2)
    assert notify(journal, reordered, order_id="a")["duplicate"] is True  # same content, other formatting
    assert notify(journal, order("a", "shipped"))["duplicate"] is False  # a new status is news
    assert notify(journal, paid, environment="test")["duplicate"] is False  # another environment's order
    assert notify(journal, order("b", "completed"))["duplicate"] is False


def test_only_verified_notifications_make_later_ones_duplicates(journal: Journal) -> None:
    paid = order("a", "completed")
    assert notify(journal, paid, verified=False, reason="stale")["duplicate"] is False
    assert notify(journal, paid)["duplicate"] is False  # the first one that counts
    replay = notify(journal, paid, verified=False, reason="signature")
    assert replay["duplicate"] is True  # a replay of something already counted


def test_bodyless_get_notifications_are_never_duplicates(journal: Journal) -> None:
    for _ in range(2):
        row = journal.record_notification(
            order_id="a", body="", query={"transactionid": "a"}, headers={}, method="GET", verified=True
        )
        assert row["duplicate"] is False


def test_notifications_frame(journal: Journal) -> None:
    notify(journal, order("a", "completed"))
    notify(journal, order("a", "completed"))
    notify(journal, "garbage", order_id="b", verified=False, reason="malformed")
    frame = journal.notifications_frame()
    assert frame.columns.tolist() == [
        "order_id", "status", "financial_status", "verified", "duplicate", "reason", "method",
        "received_at", "timestamp", "environment", "id",
    ]  # fmt: skip
    assert frame["duplicate"].tolist() == [False, True, False]
    assert frame["verified"].tolist() == [True, True, False]
    assert frame["reason"].isna().tolist() == [True, True, False] and frame["reason"][2] == "malformed"
    assert str(frame["received_at"].dtype) == "datetime64[us, UTC]"
    assert journal.notifications_frame(include_duplicates=False)["id"].tolist() == [1, 3]


def test_empty_frames_keep_their_columns_and_types(journal: Journal) -> None:
    frame = journal.notifications_frame()
    assert frame.empty and frame["verified"].dtype == bool
    assert str(frame["received_at"].dtype) == "datetime64[us, UTC]"
    assert journal.requests_frame().empty


# -- secrets ---------------------------------------------------------------------------------------


def test_the_api_key_is_never_stored(tmp_path: Path) -> None:
    secret = "SECRET-4f9a1c77e0"
    path = tmp_path / "journal.sqlite"

    def scan() -> None:
        files = [f for f in tmp_path.iterdir() if f.name.startswith("journal.sqlite")]
        assert files and all(secret.encode() not in f.read_bytes() for f in files)

    with Journal(path) as journal:
        journal.record_request("GET", f"/v1/json/orders/a?api_key={secret}&x=1", status_code=200)
        journal.record_request("GET", f"/v1/json/orders/a?Api_Key={secret}", status_code=401, error_code=1032)
        headers = {
            "Auth": secret, "Authorization": f"Bearer {secret}", "api_key": secret, "API-KEY": secret,
            "X-Api-Key": secret, "Cookie": f"session={secret}", "Content-Type": "application/json",
        }  # fmt: skip
        query = {"transactionid": "a", "timestamp": "1", "api_key": secret}
        row = journal.record_notification(
            order_id="a", body=encode_body(order("a")), query=query, headers=headers, verified=False
        )
        assert row["headers"] == {"Content-Type": "application/json"}
        assert row["query"] == {"transactionid": "a", "timestamp": "1"}
        assert journal.requests_frame()["path"].tolist() == ["/v1/json/orders/a?x=1", "/v1/json/orders/a"]
        scan()  # the database and its write-ahead log while open
    scan()  # and the checkpointed file after closing


# -- durability and concurrency --------------------------------------------------------------------

WRITER = """
import sys
import threading
from msp_explore.journal import Journal

journal = Journal(sys.argv[1])
threads = int(sys.argv[2])
out = threading.Lock()

def write(first):
    for n in range(first, 10**9, threads):
        if n % 2:
            row_id = journal.record_notification(
                order_id=f"order-{n}", body='{"order_id":"order-%d","status":"completed"}' % n,
                query={"transactionid": f"order-{n}"}, headers={}, verified=True)["id"]
            line = f"notifications {row_id} {n}\\n"
        else:
            row_id = journal.record_order({"order_id": f"order-{n}", "status": "initialized", "n": n})
            line = f"orders {row_id} {n}\\n"
        with out:  # whole lines only
            sys.stdout.write(line)
            sys.stdout.flush()

for first in range(1, threads + 1):
    threading.Thread(target=write, args=(first,)).start()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("threads", [1, 4], ids=["one-writer", "four-writers-sharing-commits"])
def test_a_killed_writer_loses_nothing_it_reported_stored(tmp_path: Path, threads: int) -> None:
    path = tmp_path / "journal.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(threads)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        reported = []
        while len(reported) < 300:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read()}"
            reported.append(line.split())
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: it is writing the next row right now
        assert proc.wait(timeout=30) == -signal.SIGKILL
        # Lines it printed after we stopped reading were reported stored too (not a partial last line).
        reported += [line.split() for line in proc.stdout.read().split("\n")[:-1]]
        proc.stderr.read()

    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for table, row_id, n in reported:
            found = conn.execute(f"SELECT order_id FROM {table} WHERE id = ?", (int(row_id),)).fetchone()
            assert found == (f"order-{n}",), (table, row_id, n)
    with Journal(path) as journal:  # and the journal opens and writes as usual afterwards
        journal.record_order(order("after-the-kill"))
        assert journal.history("after-the-kill") == [order("after-the-kill")]


def test_threads_write_notifications_at_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    threads, per_thread = 8, 150
    with Journal(path) as shared, Journal(path) as other:  # two connections: the in-process lock and SQLite's
        start = threading.Barrier(threads)

        def write(t: int) -> list[int]:
            journal = shared if t % 2 else other
            start.wait()
            return [notify(journal, order(f"o-{t}-{i}"))["id"] for i in range(per_thread)]

        with ThreadPoolExecutor(threads) as pool:
            ids = [i for batch in pool.map(write, range(threads)) for i in batch]  # re-raises any error

        assert sorted(ids) == list(range(1, threads * per_thread + 1))
        frame = shared.notifications_frame()
        assert len(frame) == threads * per_thread and not frame["duplicate"].any()


def test_racing_resends_count_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as first, Journal(path) as second:
        start = threading.Barrier(8)

        def resend(t: int) -> bool:
            start.wait()
            return bool(notify(first if t % 2 else second, order("a", "completed"))["duplicate"])

        with ThreadPoolExecutor(8) as pool:
            flags = list(pool.map(resend, range(8)))
    assert flags.count(False) == 1


# -- group commit ----------------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def hold_first_commit(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, list[int]]:
    """Hold the journal's first commit until the returned event is set; list every commit's batch size.

    Writes arriving while it is held queue up, in the order the test starts them, for the next commit.
    """
    release, sizes = threading.Event(), []
    commit = journal._commit

    def held(batch: list[Any]) -> None:
        sizes.append(len(batch))
        if len(sizes) == 1:
            assert release.wait(10)
        commit(batch)

    monkeypatch.setattr(journal, "_commit", held)
    return release, sizes


def queue_in_order(pool: ThreadPoolExecutor, journal: Journal, calls: list[Callable[[], Any]]) -> list[Any]:
    futures = []
    for queued, call in enumerate(calls, start=1):
        futures.append(pool.submit(call))
        wait_until(lambda n=queued: len(journal._queue) == n)  # so the queue's order is the calls' order
    return futures


def test_writes_arriving_during_a_commit_share_the_next_one(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    release, sizes = hold_first_commit(journal, monkeypatch)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(notify, journal, order("first"))
        wait_until(lambda: sizes == [1])  # alone: a writer with no one to wait for does not wait
        calls = [lambda i=i: notify(journal, order(f"o-{i}")) for i in range(4)]
        calls.append(lambda: journal.record_order(order("o-4")))
        futures = queue_in_order(pool, journal, calls)
        release.set()
        results = [future.result(timeout=10) for future in futures]
    assert first.result()["id"] == 1
    assert sizes == [1, 5]  # one transaction, one fsync, for the five queued writes
    assert [(row["order_id"], row["id"]) for row in results[:4]] == [("o-0", 2), ("o-1", 3), ("o-2", 4), ("o-3", 5)]
    assert results[4] == 1  # the order's own row id, in its own table
    assert journal.notifications_frame()["order_id"].tolist() == ["first", "o-0", "o-1", "o-2", "o-3"]


def test_an_earlier_copy_in_the_same_commit_makes_a_duplicate(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    paid = order("a", "completed")
    release, sizes = hold_first_commit(journal, monkeypatch)
    calls = [
        lambda: notify(journal, paid, verified=False, reason="stale"),  # does not count
        lambda: notify(journal, paid),  # the first copy that counts
        lambda: notify(journal, paid),  # a retry
        lambda: notify(journal, json.dumps(paid, indent=2), order_id="a"),  # the same content, reformatted
        lambda: notify(journal, order("a", "shipped")),  # news
        lambda: notify(journal, paid, environment="test"),  # another environment's order
        lambda: notify(journal, paid, verified=False, reason="signature"),  # a replay of something counted
    ]
    with ThreadPoolExecutor(len(calls) + 1) as pool:
        pool.submit(journal.record_request, "GET", "/v1/json/orders/a", status_code=200)
        wait_until(lambda: sizes == [1])
        futures = queue_in_order(pool, journal, calls)
        release.set()
        flags = [future.result(timeout=10)["duplicate"] for future in futures]
    assert sizes == [1, len(calls)]
    assert flags == [False, False, True, True, False, False, True]
    assert journal.notifications_frame()["duplicate"].tolist() == flags


def test_a_failed_commit_fails_every_write_in_it(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    with closing(sqlite3.connect(journal.path)) as conn:  # one row of the group will be refused
        conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON notifications WHEN NEW.order_id = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
        )
    release, sizes = hold_first_commit(journal, monkeypatch)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(notify, journal, order("before"))
        wait_until(lambda: sizes == [1])
        calls = [lambda name=name: notify(journal, order(name)) for name in ("good-1", "poison", "good-2")]
        futures = queue_in_order(pool, journal, calls)
        release.set()
        for future in futures:  # good-1 was inserted before the poison, and rolled back with it
            with pytest.raises(sqlite3.IntegrityError, match="poisoned row"):
                future.result(timeout=10)
    assert first.result()["id"] == 1
    assert sizes == [1, 3]
    assert journal.notifications_frame()["order_id"].tolist() == ["before"]
    assert notify(journal, order("after"))["id"] == 2  # and the journal writes on


def test_closing_mid_stream_fails_every_queued_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    release, sizes = hold_first_commit(journal, monkeypatch)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(notify, journal, order("first"))
        wait_until(lambda: sizes == [1])
        calls = [lambda i=i: notify(journal, order(f"o-{i}")) for i in range(3)]
        futures = queue_in_order(pool, journal, calls)
        journal.close()
        release.set()
        for future in [first, *futures]:
            with pytest.raises(MspError, match="closed"):
                future.result(timeout=10)
    assert sizes == [1, 3]
    with Journal(tmp_path / "journal.sqlite") as reopened:
        assert reopened.notifications_frame().empty


def test_a_caller_interrupted_in_the_queue_holds_up_no_one(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    release, sizes = hold_first_commit(journal, monkeypatch)
    interrupted: list[_Write[Any]] = []

    def wait_then_interrupt(write: _Write[Any]) -> None:
        assert write._wakeup.acquire(timeout=10), "a queued caller was never woken"  # not a hang if so
        if not interrupted:  # the first caller woken is the one to write next: interrupt it right then
            interrupted.append(write)
            raise KeyboardInterrupt

    monkeypatch.setattr(_Write, "wait", wait_then_interrupt)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(notify, journal, order("first"))
        wait_until(lambda: sizes == [1])
        calls = [lambda: notify(journal, order("interrupted")), lambda: notify(journal, order("next"))]
        futures = queue_in_order(pool, journal, calls)
        release.set()
        with pytest.raises(KeyboardInterrupt):
            futures[0].result(timeout=10)
        assert futures[1].result(timeout=10)["order_id"] == "next"  # the next in line wrote instead
    assert first.result()["id"] == 1
    assert sizes == [1, 1]
    assert journal.notifications_frame()["order_id"].tolist() == ["first", "next"]


def test_many_threads_at_once_each_get_their_own_rows(journal: Journal) -> None:
    threads, per_thread = 16, 25
    start = threading.Barrier(threads)

    def write(t: int) -> list[tuple[str, int, str]]:
        start.wait()
        written = []
        for i in range(per_thread):
            order_id = f"o-{t}-{i}"
            if i % 5 == 4:
                written.append(("orders", journal.record_order(order(order_id)), order_id))
            else:
                row = notify(journal, order(order_id))
                assert row["order_id"] == order_id and not row["duplicate"]
                written.append(("notifications", row["id"], order_id))
        return written

    with ThreadPoolExecutor(threads) as pool:
        written = [w for ws in pool.map(write, range(threads)) for w in ws]  # re-raises any error
    with closing(sqlite3.connect(journal.path)) as conn:
        for table in ("notifications", "orders"):
            mine = [(row_id, order_id) for name, row_id, order_id in written if name == table]
            stored = conn.execute(f"SELECT id, order_id FROM {table}").fetchall()
            assert sorted(stored) == sorted(mine)  # every row stored once, under the id its writer was given
            assert len({row_id for row_id, _ in mine}) == len(mine)


# -- frames and export (need msp_explore.frames) ---------------------------------------------------


@pytest.fixture
def paid_orders(sandbox: Sandbox, api: requests.Session, journal: Journal) -> Journal:
    """Two sandbox orders journaled through their life: one paid, one still open."""
    for order_id in ("my-order-id-1", "my-order-id-2"):
        response = api.post(f"{api.base}/orders", json={**TUTORIAL_ORDER, "order_id": order_id})  # type: ignore[attr-defined]
        response.raise_for_status()
        journal.record_order(sandbox.get_order(order_id))
    journal.record_order(sandbox.pay("my-order-id-1", "completed"))
    return journal


def test_order_frames_use_the_latest_state(paid_orders: Journal) -> None:
    frames = paid_orders.order_frames()
    assert frames.orders["order_id"].tolist() == ["my-order-id-2", "my-order-id-1"]
    assert frames.orders["status"].tolist() == ["initialized", "completed"]
    assert len(paid_orders.history("my-order-id-1")) == 2


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_one_file_per_table(paid_orders: Journal, tmp_path: Path, fmt: str) -> None:
    notify(paid_orders, paid_orders.orders()[-1])
    paid_orders.record_request("GET", "/v1/json/orders/my-order-id-1", status_code=200)
    paths = paid_orders.export(tmp_path / "out", format=fmt)
    assert [p.name for p in paths] == [
        f"{name}.{fmt}" for name in ("orders", "costs", "payment_methods", "notifications", "requests")
    ]
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    tables = {p.stem: read(p) for p in paths}
    assert sorted(tables["orders"]["order_id"]) == ["my-order-id-1", "my-order-id-2"]
    assert tables["notifications"]["order_id"].tolist() == ["my-order-id-1"]
    assert len(tables["requests"]) == 1


def test_export_rejects_unknown_formats(journal: Journal, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="format"):
        journal.export(tmp_path, format="xlsx")
