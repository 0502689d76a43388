"""WebhookReceiver against real servers: the sandbox notifies it over HTTP, a Journal on disk stores for it.

Nothing is mocked. Where a fault is needed it is a real one: a port nobody listens on, a closed or
read-only journal, a receiver process killed with SIGKILL, a body signed with the wrong key.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from _listener import Listener, wait_until
from conftest import notifying_order

from msp_explore.client import Client
from msp_explore.journal import Journal
from msp_explore.receiver import MAX_BODY, WebhookReceiver
from msp_explore.sandbox import Sandbox
from msp_explore.webhooks import encode_body, sign_notification

NOW = int(time.time())  # when this module was loaded: signatures that must fail, or be stale, use it


def now() -> int:
    """The current unix time: what a notification sent now is signed with, seeded sandbox or not."""
    return int(time.time())

FRAME_COLUMNS = ["order_id", "status", "financial_status", "verified", "duplicate", "received_at"]


def sandbox_client(sandbox: Sandbox, **kwargs: Any) -> Client:
    """A Client for ``sandbox``, without retries: a receiver uses it to fetch the order of a GET notification."""
    kwargs.setdefault("base_url", sandbox.url)
    client = Client(sandbox.api_key, max_attempts=1, **kwargs)
    return client


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # never through a developer's proxy
        yield session


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite") as journal:
        yield journal


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with sandbox_client(sandbox) as client:
        yield client


@pytest.fixture
def receiver(client: Client, journal: Journal) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(client=client, journal=journal) as receiver:
        yield receiver


def create_order(api: requests.Session, order_id: str, url: str, method: str = "POST") -> None:
    response = api.post(f"{api.base}/orders", json=notifying_order(url, order_id, method))  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text


def post(
    http: requests.Session,
    url: str,
    body: bytes,
    *,
    auth: str | None,
    order_id: str | None = None,
    timestamp: int | None = None,
) -> requests.Response:
    """POST a notification as MultiSafepay does; ``transactionid`` is the body's order_id unless given."""
    if order_id is None:
        try:
            order_id = json.loads(body)["order_id"]
        except (ValueError, TypeError, KeyError):
            order_id = "order-1"
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Auth"] = auth
    params = {"transactionid": order_id, "timestamp": str(now() if timestamp is None else timestamp)}
    return http.post(url, params=params, data=body, headers=headers, timeout=10)


def notification(order_id: str = "order-1", status: str = "completed", **fields: Any) -> bytes:
    order = {"order_id": order_id, "status": status, "financial_status": status, "amount": 1000, **fields}
    return encode_body(order)


def stored(journal: Journal, *, include_duplicates: bool = True) -> pd.DataFrame:
    return journal.notifications_frame(include_duplicates=include_duplicates)


def raw_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the journal file through a connection of its own: only committed rows are visible."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def acknowledged(sandbox: Sandbox, order_id: str | None = None) -> list[dict[str, Any]]:
    return [d for d in sandbox.deliveries if d["acknowledged"] and order_id in (None, d["order_id"])]


# -- notifications from the sandbox ---------------------------------------------------------------------


def test_sandbox_notification_is_verified_stored_and_acknowledged(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver, journal: Journal
) -> None:
    create_order(api, "order-1", receiver.url)
    sandbox.pay("order-1", "completed")  # sync_notifications: delivered before pay() returns

    [delivery] = sandbox.deliveries
    assert delivery["acknowledged"] and delivery["status_code"] == 200 and delivery["response_body"] == "OK"
    [row] = stored(journal).to_dict("records")
    assert row["order_id"] == "order-1"
    assert (row["status"], row["financial_status"]) == ("completed", "completed")
    assert row["verified"] and not row["duplicate"] and row["reason"] is None
    assert row["method"] == "POST" and row["timestamp"] == str(delivery["timestamp"])
    [record] = receiver.records
    assert record["id"] == row["id"] and record["verified"]
    # The body is stored exactly as sent, and no signature or key ever reaches the file.
    [(body, headers)] = raw_rows(journal.path, "SELECT body, headers FROM notifications")
    assert body == encode_body(sandbox.get_order("order-1")).decode()
    assert "Auth" not in headers
    files = Path(journal.path).parent.glob(Path(journal.path).name + "*")  # the database, its WAL and index
    assert not any(sandbox.api_key.encode() in file.read_bytes() for file in files)


def test_notification_is_stored_before_it_is_acknowledged(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver, journal: Journal
) -> None:
    # Callbacks run after storing and before the answer goes out, so from inside one we can look at
    # what a crash at that moment would leave: the row must be committed, the sandbox not yet answered.
    seen: list[tuple[list[Any], list[Any]]] = []

    @receiver.on_notification
    def look(record: dict[str, Any]) -> None:
        rows = raw_rows(journal.path, "SELECT order_id, status FROM notifications")
        seen.append((rows, acknowledged(sandbox, record["order_id"])))

    create_order(api, "order-1", receiver.url)
    sandbox.pay("order-1", "completed")

    assert seen == [([("order-1", "completed")], [])]
    assert len(acknowledged(sandbox, "order-1")) == 1


def test_every_acknowledged_delivery_is_already_in_the_journal(
    tmp_path: Path, journal: Journal, http: requests.Session
) -> None:
    # Asynchronous deliveries, checked from outside by a watcher that reads the journal file the
    # moment it sees the sandbox record an acknowledgement.
    with Sandbox(retry_interval=0.3) as sandbox, WebhookReceiver(sandbox.api_key, journal=journal) as receiver:
        http.headers["api_key"] = sandbox.api_key
        http.base = sandbox.url  # type: ignore[attr-defined]
        order_ids = [f"order-{i}" for i in range(40)]
        for order_id in order_ids:
            create_order(http, order_id, receiver.url)
        missing: list[str] = []
        done = threading.Event()

        def watch() -> None:
            checked = 0
            while not done.is_set() or checked < len(sandbox.deliveries):
                deliveries = sandbox.deliveries
                for delivery in deliveries[checked:]:
                    if delivery["acknowledged"]:
                        oid = delivery["order_id"]
                        sql = f"SELECT 1 FROM notifications WHERE order_id = '{oid}' AND verified"
                        if not raw_rows(journal.path, sql):
                            missing.append(oid)
                checked = len(deliveries)
                time.sleep(0.001)

        watcher = threading.Thread(target=watch)
        watcher.start()
        for order_id in order_ids:
            sandbox.pay(order_id, "completed")
        assert wait_until(lambda: len(acknowledged(sandbox)) == len(order_ids), timeout=20)
        done.set()
        watcher.join(timeout=10)
    assert missing == []
    assert len(stored(journal)) == len(order_ids)


def test_callbacks_fire_and_a_failing_callback_does_not_cost_the_acknowledgement(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, str]] = []
    assert receiver.on_notification(lambda r: calls.append((r["order_id"], r["status"]))) is not None

    @receiver.on_notification
    def broken(record: dict[str, Any]) -> None:
        raise RuntimeError("a widget's bug")

    create_order(api, "order-1", receiver.url)
    create_order(api, "order-2", receiver.url)
    sandbox.pay("order-1", "completed")
    sandbox.pay("order-2", "declined")

    assert calls == [("order-1", "completed"), ("order-2", "declined")]
    assert all(d["acknowledged"] for d in sandbox.deliveries)
    assert "callback" in caplog.text and "a widget's bug" in caplog.text


def test_wait_for_blocks_until_the_notification_arrives(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver
) -> None:
    create_order(api, "order-1", receiver.url)
    payer = threading.Timer(0.3, sandbox.pay, args=("order-1", "completed"))
    began = time.monotonic()
    payer.start()
    try:
        record = receiver.wait_for("order-1", status="completed", timeout=10)
    finally:
        payer.join()
    assert time.monotonic() - began >= 0.25
    assert (record["order_id"], record["status"], record["verified"]) == ("order-1", "completed", True)
    assert receiver.wait_for("order-1", timeout=0) is record  # already there: returns at once


def test_wait_for_times_out_with_a_clear_error(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver
) -> None:
    create_order(api, "order-1", receiver.url)
    sandbox.pay("order-1", "declined")
    began = time.monotonic()
    with pytest.raises(TimeoutError, match=r"no verified notification for order-1 with status completed within 0.3 s"):
        receiver.wait_for("order-1", status="completed", timeout=0.3)
    assert 0.25 <= time.monotonic() - began < 3
    with pytest.raises(TimeoutError, match="no verified notification for order-9 within"):
        receiver.wait_for("order-9", timeout=0.05)


def test_frames_have_the_documented_columns(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver, journal: Journal
) -> None:
    empty = receiver.notifications
    assert set(FRAME_COLUMNS) <= set(empty.columns) and empty.empty
    create_order(api, "order-1", receiver.url)
    sandbox.pay("order-1", "completed")

    for frame in (receiver.notifications, journal.notifications_frame()):
        assert set(FRAME_COLUMNS) <= set(frame.columns)
        assert frame[["order_id", "status", "financial_status"]].values.tolist() == [
            ["order-1", "completed", "completed"]
        ]
        assert frame["verified"].dtype == bool and frame["duplicate"].dtype == bool
        assert isinstance(frame["received_at"].dtype, pd.DatetimeTZDtype)
        assert str(frame["received_at"].dt.tz) == "UTC"
    assert receiver.notifications["received_at"][0] == journal.notifications_frame()["received_at"][0]


def test_without_a_journal_notifications_are_kept_in_memory(
    sandbox: Sandbox, api: requests.Session, client: Client, http: requests.Session
) -> None:
    with WebhookReceiver(client=client) as receiver:
        create_order(api, "order-1", receiver.url)
        sandbox.pay("order-1", "completed")
        body = encode_body(sandbox.get_order("order-1"))
        resent = post(http, receiver.url, body, auth=sign_notification(body, sandbox.api_key, now()))
        assert resent.text == "OK"
        frame = receiver.notifications
        records = receiver.records
    assert frame["id"].tolist() == [1, 2]
    assert frame["duplicate"].tolist() == [False, True]
    assert frame["verified"].all()
    # Always with microseconds, as the journal writes it, or one row on a whole second breaks the frame.
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", r["received_at"]) for r in records)


def test_without_a_journal_rejected_notifications_are_kept_too(http: requests.Session) -> None:
    with WebhookReceiver("key") as receiver:
        body = b"not json"
        response = post(http, receiver.url, body, auth=sign_notification(body, "key", int(time.time())))
        assert response.status_code == 400
        [record] = receiver.records
    assert (record["order_id"], record["verified"], record["duplicate"]) == ("order-1", False, False)
    assert record["reason"] == "body is not a JSON object" and record["status"] is None


def test_the_key_and_environment_come_from_the_client(journal: Journal) -> None:
    # No api_key given, no MSP_API_KEY: the receiver must verify with the client's key, not a default.
    with (
        Sandbox(api_key="a-website-key-of-our-own", seed=0, sync_notifications=True) as sandbox,
        sandbox_client(sandbox) as client,
        WebhookReceiver(client=client, journal=journal) as receiver,
        requests.Session() as api,
    ):
        api.trust_env = False
        api.headers["api_key"] = sandbox.api_key
        api.base = sandbox.url  # type: ignore[attr-defined]
        create_order(api, "order-1", receiver.url)
        sandbox.pay("order-1", "completed")
        [delivery] = sandbox.deliveries
    assert delivery["acknowledged"], delivery
    frame = stored(journal)
    assert frame[["order_id", "verified", "environment"]].values.tolist() == [["order-1", True, "sandbox"]]


# -- GET notifications and public_url ---------------------------------------------------------------


def test_get_notification_fetches_the_order_through_the_client(
    sandbox: Sandbox, api: requests.Session, journal: Journal, tmp_path: Path
) -> None:
    with (
        Journal(tmp_path / "client.sqlite") as client_journal,  # records every request the client makes
        sandbox_client(sandbox, journal=client_journal) as client,
        WebhookReceiver(client=client, journal=journal) as receiver,
    ):
        create_order(api, "order-1", receiver.url, method="GET")
        sandbox.pay("order-1", "completed")
        fetched = client_journal.requests_frame()[["method", "path", "status_code"]].values.tolist()

    assert fetched == [["GET", "/orders/order-1", 200]]
    [delivery] = sandbox.deliveries
    assert delivery["method"] == "GET" and delivery["acknowledged"]
    [row] = stored(journal).to_dict("records")
    assert (row["method"], row["order_id"], row["status"], row["verified"]) == ("GET", "order-1", "completed", True)
    [(body,)] = raw_rows(journal.path, "SELECT body FROM notifications")
    assert json.loads(body) == sandbox.get_order("order-1")  # the order as fetched


@pytest.mark.parametrize(
    ("make_client", "query", "status", "reason"),
    [
        (None, {"transactionid": "order-1"}, 502, "no client to fetch the order with"),
        ("sandbox", {}, 400, "GET notification without transactionid"),
        ("sandbox", {"transactionid": "no-such-order"}, 502, "could not fetch the order: 1006 Invalid transaction ID"),
        ("unreachable", {"transactionid": "order-1"}, 502, "could not fetch the order: "),
    ],
    ids=["no-client", "no-transactionid", "unknown-order", "api-unreachable"],
)
def test_get_notification_that_cannot_be_fetched_is_stored_as_rejected(
    sandbox: Sandbox,
    journal: Journal,
    http: requests.Session,
    make_client: str | None,
    query: dict[str, str],
    status: int,
    reason: str,
) -> None:
    urls = {"sandbox": sandbox.url, "unreachable": f"http://127.0.0.1:{free_port()}/v1/json"}
    client = None if make_client is None else sandbox_client(sandbox, base_url=urls[make_client])
    try:
        with WebhookReceiver(sandbox.api_key, client=client, journal=journal) as receiver:
            response = http.get(receiver.url, params=query, timeout=10)
            [record] = receiver.records
    finally:
        if client is not None:
            client.close()
    assert response.status_code == status and "OK" not in response.text[:100]
    assert not record["verified"] and reason in record["reason"]
    [row] = stored(journal).to_dict("records")
    assert row["method"] == "GET" and not row["verified"] and reason in row["reason"]


def test_public_url_is_reported_as_url(journal: Journal, http: requests.Session) -> None:
    public = "https://hooks.example.com/msp/notification"
    with WebhookReceiver("key", journal=journal, public_url=public) as receiver:
        assert receiver.url == public
        assert public in repr(receiver)
        # Still served locally, on the configured path, for the tunnel to forward to.
        body = notification()
        local = receiver.server.url_for("/webhook")
        assert post(http, local, body, auth=sign_notification(body, "key", int(time.time()))).text == "OK"


# -- storage failures -----------------------------------------------------------------------------------


def close(journal: Journal) -> None:
    journal.close()


def make_read_only(journal: Journal) -> None:
    # chmod does not stop root, and tests may run as root: switch the live connection to read-only.
    assert journal._conn is not None
    journal._conn.execute("PRAGMA query_only = ON")


@pytest.mark.parametrize("break_journal", [close, make_read_only], ids=["closed", "read-only"])
def test_storage_failure_means_no_ok_and_the_retry_is_stored(
    sandbox: Sandbox,
    api: requests.Session,
    client: Client,
    tmp_path: Path,
    break_journal: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = Journal(tmp_path / "broken.sqlite")
    with WebhookReceiver(client=client, journal=broken) as receiver:
        create_order(api, "order-1", receiver.url)
        break_journal(broken)
        sandbox.pay("order-1", "completed")

        [first] = sandbox.deliveries
        assert (first["status_code"], first["acknowledged"]) == (503, False)
        assert first["response_body"] == "storage failed; retry later"
        assert receiver.records == []  # nothing claimed that was not stored
        assert "could not store a notification for order-1" in caplog.text

        with Journal(tmp_path / "fresh.sqlite") as fresh:
            receiver.journal = fresh
            sandbox.advance(0.2)  # the retry falls due on the seeded sandbox's (standing) clock
            receiver.wait_for("order-1", status="completed", timeout=10)  # the sandbox's retry
            assert wait_until(lambda: acknowledged(sandbox, "order-1"), timeout=10)
            [row] = stored(fresh).to_dict("records")
            assert row["verified"] and not row["duplicate"]
    broken.close()
    with Journal(tmp_path / "broken.sqlite") as reopened:
        assert stored(reopened).empty
    *refused, last = sandbox.deliveries
    assert last["acknowledged"] and all(d["status_code"] == 503 for d in refused)


# -- faults that must be survived -----------------------------------------------------------------------


def test_receiver_not_running_when_the_sandbox_pays(tmp_path: Path, journal: Journal, http: requests.Session) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhook"
    with Sandbox(retry_interval=0.3) as sandbox:
        http.headers["api_key"] = sandbox.api_key
        http.base = sandbox.url  # type: ignore[attr-defined]
        create_order(http, "order-1", url)
        sandbox.pay("order-1", "completed")
        assert wait_until(lambda: sandbox.deliveries, timeout=5)
        first = sandbox.deliveries[0]
        assert not first["acknowledged"] and "ConnectionError" in first["error"]

        with sandbox_client(sandbox) as client, WebhookReceiver(client=client, journal=journal, port=port) as receiver:
            assert receiver.url == url
            receiver.wait_for("order-1", status="completed", timeout=10)
            assert wait_until(lambda: acknowledged(sandbox, "order-1"), timeout=10)
            time.sleep(0.7)  # two more retry intervals: nothing else may arrive
            attempts = [d["acknowledged"] for d in sandbox.deliveries]
    assert attempts[-1] and not any(attempts[:-1]) and len(attempts) >= 2
    frame = stored(journal)
    assert len(frame) == 1 and frame["verified"].all() and not frame["duplicate"].any()


@pytest.mark.slow
def test_receiver_killed_mid_stream_loses_no_acknowledged_notification(tmp_path: Path) -> None:
    """1,000 status changes; the receiver process is SIGKILLed halfway and restarted on the same port."""
    began = time.monotonic()
    path = tmp_path / "journal.sqlite"
    n_orders = 500  # each is paid, then shipped: two changes, two notifications
    order_ids = [f"order-{i:04d}" for i in range(n_orders)]
    expected = {(oid, "completed", "completed") for oid in order_ids} | {
        (oid, "shipped", "completed") for oid in order_ids
    }
    failures: list[str] = []
    halt = threading.Event()
    # Unseeded: wall-clock timestamps, deliveries in the background. Retries every 0.5 s; ten of them
    # instead of MultiSafepay's three so that a slow restart on a busy machine cannot exhaust them.
    with Sandbox(retry_interval=0.5, retries=10) as sandbox, requests.Session() as api:
        api.trust_env = False
        api.headers["api_key"] = sandbox.api_key

        def drive() -> None:
            try:
                for oid in order_ids:
                    if halt.is_set():
                        return
                    sandbox.pay(oid, "completed")
                    shipped = api.patch(f"{sandbox.url}/orders/{oid}", json={"status": "shipped"})
                    if shipped.status_code != 200:
                        failures.append(shipped.text)
            except Exception as exc:  # reported by the test below, not lost in a thread
                failures.append(repr(exc))

        driver = threading.Thread(target=drive)
        try:
            with Listener(path, api_key=sandbox.api_key, stderr=tmp_path / "1.err") as first:
                for oid in order_ids:
                    response = api.post(f"{sandbox.url}/orders", json=notifying_order(first.url, oid))
                    assert response.status_code == 200, response.text
                driver.start()
                assert wait_until(lambda: len(acknowledged(sandbox)) >= 300, timeout=30), (
                    failures,
                    len(sandbox.deliveries),
                    sandbox.deliveries[-2:],
                    first.output[-3:],
                    first.stderr()[-2000:],
                )
                assert first.kill() == -9
                acked_before_kill = Counter(d["order_id"] for d in acknowledged(sandbox))

            # Right after the kill, before anything is restarted: everything acknowledged is on disk.
            with Journal(path) as journal:
                frame = stored(journal, include_duplicates=False)
            assert frame["verified"].all()
            on_disk = Counter(frame["order_id"])
            short = {oid: n for oid, n in acked_before_kill.items() if on_disk[oid] < n}
            assert short == {}, f"acknowledged but not stored: {short}"

            with Listener(
                path, api_key=sandbox.api_key, port=first.port, stderr=tmp_path / "2.err"
            ) as second:
                assert second.url == first.url
                driver.join(timeout=30)
                assert not driver.is_alive() and failures == []

                def settled() -> bool:
                    sandbox.wait_for_deliveries(timeout=5)
                    if len(acknowledged(sandbox)) == len(expected):
                        return True
                    sandbox.advance(0.5)  # bring scheduled retries forward instead of sleeping through them
                    return False

                assert wait_until(settled, timeout=30), Counter(d["error"] for d in sandbox.deliveries if d["error"])
                assert second.terminate() == 0
        finally:
            halt.set()
            if driver.is_alive():
                driver.join(timeout=30)
        retried = sum(1 for d in sandbox.deliveries if d["attempt"] > 1)

    with Journal(path) as journal:
        everything = stored(journal)
        counted = stored(journal, include_duplicates=False)
    changes = list(counted[["order_id", "status", "financial_status"]].itertuples(index=False, name=None))
    assert len(changes) == len(expected) and set(changes) == expected  # each change exactly once
    assert everything["verified"].all() and counted["verified"].all()
    # Anything stored more than once (stored, then killed before the OK went out) is flagged.
    resends = everything[everything["duplicate"]]
    assert len(everything) == len(expected) + len(resends)
    assert set(resends[["order_id", "status"]].itertuples(index=False, name=None)) <= {(o, s) for o, s, _ in expected}
    assert 0 < len(acked_before_kill) < n_orders and retried > 0
    assert time.monotonic() - began < 60


# -- rejected notifications -----------------------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BODY = notification("order-1")
REJECTIONS = {
    # name: (body sent, Auth header or None for no header, reason it is stored with)
    "wrong-key": (BODY, sign_notification(BODY, "someone-elses-key", NOW), "signature"),
    "tampered-body": (BODY.replace(b'"amount":1000', b'"amount":1'), sign_notification(BODY, "key", NOW), "signature"),
    "stale": (BODY, sign_notification(BODY, "key", NOW - 601), "stale"),
    "not-base64": (BODY, "%%% not base64 %%%", "malformed"),
    "no-colon": (BODY, b64(str(NOW)), "malformed"),
    "short-signature": (BODY, b64(f"{NOW}:abc123"), "malformed"),
    "text-timestamp": (BODY, b64("yesterday:" + "0" * 128), "malformed"),
    "empty-auth": (BODY, "", "malformed"),
    "missing-auth": (BODY, None, "malformed"),
}


@pytest.mark.parametrize(("body", "auth", "reason"), REJECTIONS.values(), ids=REJECTIONS.keys())
def test_bad_signatures_are_rejected_stored_and_not_counted(
    journal: Journal, http: requests.Session, body: bytes, auth: str | None, reason: str
) -> None:
    with WebhookReceiver("key", journal=journal) as receiver:
        response = post(http, receiver.url, body, auth=auth)
        assert response.status_code == 403 and response.text.startswith(reason)
        assert "OK" not in response.text[:100]
        with pytest.raises(TimeoutError):
            receiver.wait_for("order-1", timeout=0.05)
        [record] = receiver.records
    assert not record["verified"] and record["reason"].startswith(reason + ":")
    frame = stored(journal)
    assert frame[["order_id", "verified", "duplicate"]].values.tolist() == [["order-1", False, False]]
    assert frame["reason"][0].startswith(reason + ":")
    counted = frame[frame["verified"] & ~frame["duplicate"]]
    assert counted.empty


def test_a_genuine_notification_replayed_after_the_tolerance_is_rejected(
    sandbox: Sandbox, api: requests.Session, client: Client, journal: Journal, http: requests.Session
) -> None:
    # A test of the tolerance itself: a 2 s window, so the replay can outlive it without a long wait.
    with WebhookReceiver(sandbox.api_key, client=client, journal=journal, tolerance=2) as receiver:
        create_order(api, "order-1", receiver.url)
        sandbox.pay("order-1", "completed")
        [delivery] = sandbox.deliveries
        assert delivery["acknowledged"]
        [(body,)] = raw_rows(journal.path, "SELECT body FROM notifications")
        # The same bytes and the same Auth the sandbox sent (HMAC is deterministic), captured and replayed.
        auth = sign_notification(body, sandbox.api_key, delivery["timestamp"])

        again = post(http, receiver.url, body.encode(), auth=auth, timestamp=delivery["timestamp"])
        assert again.text == "OK"  # within the tolerance a resend is fine, and flagged below
        while time.time() - delivery["timestamp"] <= 2.5:
            time.sleep(0.1)
        late = post(http, receiver.url, body.encode(), auth=auth, timestamp=delivery["timestamp"])
        assert late.status_code == 403 and late.text.startswith("stale")

        frame = stored(journal)
        assert frame[["verified", "duplicate"]].values.tolist() == [[True, False], [True, True], [False, True]]
        assert frame["reason"][2].startswith("stale:")
        assert len(stored(journal, include_duplicates=False)) == 1
        assert receiver.wait_for("order-1")["id"] == frame["id"][1]  # the stale copy is ignored


def oversized() -> bytes:
    return b'{"order_id":"order-1","padding":"' + b"x" * MAX_BODY + b'"}'


BAD_BODIES = {
    # name: (body, HTTP status, reason)
    "oversized": (oversized(), 413, f"body larger than {MAX_BODY} bytes"),
    "not-json": (b"status=completed&order_id=order-1", 400, "body is not a JSON object"),
    "json-array": (b'[{"order_id":"order-1"}]', 400, "body is not a JSON object"),
    "not-utf8": (b'{"order_id":"\xff\xfe"}', 400, "body is not a JSON object"),
    "empty": (b"", 400, "body is not a JSON object"),
}


@pytest.mark.parametrize(("body", "status", "reason"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_get_a_clear_4xx_are_stored_and_the_receiver_keeps_serving(
    journal: Journal, http: requests.Session, body: bytes, status: int, reason: str
) -> None:
    with WebhookReceiver("key", journal=journal) as receiver:
        response = post(http, receiver.url, body, auth=sign_notification(body, "key", int(time.time())))
        assert response.status_code == status and response.text == reason
        good = notification("order-2")
        assert post(http, receiver.url, good, auth=sign_notification(good, "key", int(time.time()))).text == "OK"
        assert receiver.wait_for("order-2", timeout=1)["verified"]
    frame = stored(journal)
    assert frame["verified"].tolist() == [False, True]
    assert frame["reason"][0] == reason and pd.isna(frame["reason"][1])
    [(length,)] = raw_rows(journal.path, "SELECT length(CAST(body AS BLOB)) FROM notifications WHERE id = 1")
    if status == 413:
        assert length == MAX_BODY  # stored for inspection, cut at the limit


def test_oversized_chunked_body_is_cut_off_at_the_limit(journal: Journal, http: requests.Session) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: only reading can tell the size
        for _ in range(3):
            yield b"x" * MAX_BODY

    with WebhookReceiver("key", journal=journal) as receiver:
        response = http.post(receiver.url, params={"transactionid": "order-1"}, data=chunks(), timeout=10)
        assert response.status_code == 413
        good = notification("order-2")
        assert post(http, receiver.url, good, auth=sign_notification(good, "key", int(time.time()))).text == "OK"
    assert stored(journal)["verified"].tolist() == [False, True]


# -- duplicates -----------------------------------------------------------------------------------------


def test_the_same_signed_body_twice_is_flagged_duplicate(journal: Journal, http: requests.Session) -> None:
    body = notification("order-1")
    with WebhookReceiver("key", journal=journal) as receiver:
        for ts in (now(), now() + 1):  # a resend carries a fresh timestamp, so a fresh Auth
            assert post(http, receiver.url, body, auth=sign_notification(body, "key", ts), timestamp=ts).text == "OK"
        assert [r["duplicate"] for r in receiver.records] == [False, True]
    assert stored(journal)["duplicate"].tolist() == [False, True]
    assert len(stored(journal, include_duplicates=False)) == 1


def test_a_resend_after_a_lost_answer_is_flagged_duplicate(
    sandbox: Sandbox,
    api: requests.Session,
    receiver: WebhookReceiver,
    journal: Journal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The receiver stores the first copy but answers too late: the sandbox has given up on it and resends.
    monkeypatch.setattr(sandbox.notifier, "timeout", 0.3)
    slow_once = threading.Event()

    @receiver.on_notification
    def slow(record: dict[str, Any]) -> None:
        if not slow_once.is_set():
            slow_once.set()
            time.sleep(0.8)

    create_order(api, "order-1", receiver.url)
    sandbox.pay("order-1", "completed")
    sandbox.advance(0.2)  # the retry falls due on the seeded sandbox's (standing) clock
    assert wait_until(lambda: acknowledged(sandbox, "order-1"), timeout=10)

    first, second = sandbox.deliveries
    assert not first["acknowledged"] and "Timeout" in first["error"] and second["acknowledged"]
    frame = stored(journal)
    assert frame["duplicate"].tolist() == [False, True] and frame["verified"].all()
    assert len(stored(journal, include_duplicates=False)) == 1
    assert receiver.notifications["duplicate"].tolist() == [False, True]


def test_concurrent_notifications_are_all_stored_once(journal: Journal, http: requests.Session) -> None:
    bodies = [notification(f"order-{i}") for i in range(120)]

    answers: list[str] = []

    def send(chunk: list[bytes]) -> None:
        with requests.Session() as session:
            session.trust_env = False
            for body in chunk:
                response = post(session, receiver.url, body, auth=sign_notification(body, "key", now()))
                answers.append(response.text)

    with WebhookReceiver("key", journal=journal) as receiver:
        threads = [threading.Thread(target=send, args=(bodies[i::6],)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        records = receiver.records
    assert answers == ["OK"] * len(bodies)
    frame = stored(journal)
    assert len(records) == len(frame) == len(bodies)
    assert sorted(frame["order_id"]) == sorted(f"order-{i}" for i in range(120))
    assert frame["id"].is_unique and not frame["duplicate"].any()


# -- any path ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/webhook", "/", "/shop/notify", "/hook//double", "/webhook/", "/a%2Fb?type=x"])
def test_a_notification_on_any_path_is_taken(journal: Journal, http: requests.Session, path: str) -> None:
    # MultiSafepay posts to whatever URL the merchant set, and a tunnel may rewrite the path.
    with WebhookReceiver("key", journal=journal) as receiver:
        assert receiver.url.endswith("/webhook")  # still one URL to give out
        url = receiver.url.removesuffix("/webhook") + path
        body = notification("order-1")
        response = post(http, url, body, auth=sign_notification(body, "key", now()))
        assert (response.status_code, response.text) == (200, "OK")
        assert not response.is_redirect
    assert stored(journal)["verified"].tolist() == [True]


def test_received_keeps_each_notification_exactly_as_it_came_in(http: requests.Session) -> None:
    from multisafepay.util import Webhook

    with WebhookReceiver("key") as receiver:
        body = notification("order-1", description="Café ☕ \\/ déjà")
        auth = sign_notification(body, "key", now())
        post(http, receiver.url, body, auth=auth)
        [note] = receiver.received("order-1")
    assert note["body"] == body and note["headers"]["Auth"] == auth and note["method"] == "POST"
    assert Webhook.validate(note["body"].decode(), note["headers"]["Auth"], "key")
    assert receiver.received("order-2") == []
