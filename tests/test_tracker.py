"""The status tracker: status and delivery timeline from a real sandbox and receiver, from any thread.

Nothing is mocked: notifications come over HTTP from the sandbox into a real WebhookReceiver, whose
server threads call the tracker; buttons are clicked from threads of the test's own. What is checked
is what the widgets show (``HTML.value``), the way a page would read it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from msp_explore import widgets
from msp_explore.client import Client
from msp_explore.journal import Journal
from msp_explore.receiver import WebhookReceiver
from msp_explore.sandbox import Sandbox
from msp_explore.tracker import delivery_timeline, retries_due
from msp_explore.tutorial import tutorial_order
from msp_explore.webhooks import encode_body, sign_notification


@pytest.fixture
def receiver(client: Client) -> Iterator[WebhookReceiver]:
    with Journal(":memory:") as journal, WebhookReceiver(client=client, journal=journal) as receiver:
        yield receiver


def create(client: Client, order_id: str, notification_url: str | None = None) -> dict[str, Any]:
    order = tutorial_order(order_id=order_id)
    if notification_url is not None:
        order["payment_options"]["notification_url"] = notification_url  # type: ignore[index]
    return client.create_order(order)


def rows(tracker: widgets.StatusTracker) -> list[list[str]]:
    """The timeline table as text, one list of cells per attempt (the header left out)."""
    found = re.findall(r"<tr>(.*?)</tr>", tracker.timeline.value)[1:]
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in found]


def settle(tracker: widgets.StatusTracker, attempts: int, timeout: float = 5.0) -> None:
    """Wait until the tracker's follow-up read of the sandbox shows ``attempts`` deliveries."""
    deadline = time.monotonic() + timeout
    while len(tracker.deliveries) < attempts and time.monotonic() < deadline:
        time.sleep(0.02)


# -- following an order ---------------------------------------------------------------------------------
def test_the_tracker_follows_the_notifications(client: Client, receiver: WebhookReceiver, sandbox: Sandbox) -> None:
    create(client, "tracked", receiver.url)
    tracker = widgets.status_tracker("tracked", receiver=receiver, client=client)
    assert "tracked" in tracker.status.value and "</span><span" not in tracker.status.value  # no badges yet
    assert "no webhook notification yet" in tracker.timeline.value

    sandbox.pay("tracked", "completed")

    assert tracker.status.value.count(">completed</span>") == 2  # status and financial_status
    assert [record["status"] for record in tracker.seen] == ["completed"]
    settle(tracker, 1)
    # time (sandbox clock), which attempt, what it said, HTTP code, acknowledged, verified, duplicate, retry due
    assert rows(tracker) == [["2026-01-01T12:00:03", "#1 attempt 1", "completed / completed", "200", "✓", "✓", "–",
                              "–"]]  # fmt: skip
    assert "no retries due" in tracker.timeline.value
    assert repr(tracker) == "<StatusTracker: tracked: completed / completed; 1 webhook attempt(s), 1 acknowledged>"


def test_the_tracker_ignores_other_orders(client: Client, receiver: WebhookReceiver, sandbox: Sandbox) -> None:
    create(client, "tracked", receiver.url)
    create(client, "other", receiver.url)
    tracker = widgets.status_tracker("tracked", receiver=receiver)
    before = tracker.status.value

    sandbox.pay("other", "declined")

    assert [record["order_id"] for record in receiver.records] == ["other"]  # it did arrive
    assert tracker.seen == [] and rows(tracker) == [] and tracker.status.value == before


def test_a_rejected_notification_is_listed_but_changes_nothing(
    client: Client, receiver: WebhookReceiver, sandbox: Sandbox
) -> None:
    create(client, "tracked", receiver.url)
    tracker = widgets.status_tracker("tracked", receiver=receiver, client=client)
    before = tracker.status.value
    body = encode_body({"order_id": "tracked", "status": "completed", "financial_status": "completed"})
    forged = sign_notification(body, "not-the-key", int(time.time()))
    with requests.Session() as http:
        http.trust_env = False
        response = http.post(
            receiver.url, params={"transactionid": "tracked"}, data=body,
            headers={"Auth": forged, "Content-Type": "application/json"}, timeout=10,
        )  # fmt: skip
    assert response.status_code == 403

    assert tracker.status.value == before
    [forged_row] = rows(tracker)  # not the sandbox's: only the receiver's side is known
    assert forged_row[1] == "–" and forged_row[2].startswith("completed / completed (rejected: signature:")
    assert forged_row[4:7] == ["✗", "✗", "–"]

    sandbox.pay("tracked", "declined")  # a genuine one still counts
    assert tracker.status.value.count(">declined</span>") == 2
    settle(tracker, 1)
    assert [row[1:3] for row in rows(tracker)] == [["#1 attempt 1", "declined / declined"],
                                                   ["–", forged_row[2]]]  # fmt: skip


def test_an_unacknowledged_attempt_shows_its_retry_due(client: Client, sandbox: Sandbox) -> None:
    # a handler that has the wrong key refuses every notification: the sandbox will try again
    with Journal(":memory:") as journal, WebhookReceiver("the-wrong-key-123456", journal=journal) as wrong:
        create(client, "refused", wrong.url)
        tracker = widgets.status_tracker("refused", receiver=wrong, client=client)
        sandbox.pay("refused", "completed")
        settle(tracker, 1)
        [row] = rows(tracker)
        assert row[3:6] == ["403", "✗", "✗"] and re.fullmatch(r"2026-01-01T12:00:0\d", row[7])
        assert f"retries still due (sandbox clock): #1 attempt 2 at {row[7]}" in tracker.timeline.value
        assert "retries due" in repr(tracker)
        assert ">completed</span>" not in tracker.status.value  # a refused notification tells nothing

        sandbox.advance(1)  # every retry falls due (0.2 s apart here), and each is refused
        tracker.update()
        assert [r[1] for r in rows(tracker)] == [f"#1 attempt {n}" for n in (1, 2, 3, 4)]
        assert [r[3] for r in rows(tracker)] == ["403"] * 4
        assert "no retries due" in tracker.timeline.value  # three retries, then MultiSafepay gives up


def test_the_timeline_joins_attempts_to_what_the_receiver_saw() -> None:
    deliveries = [
        {"order_id": "o", "notification": 1, "attempt": 1, "timestamp": 100, "time": "t1", "status_code": 503,
         "acknowledged": False, "error": None, "retry_due": "t2"},
        {"order_id": "o", "notification": 2, "attempt": 1, "timestamp": 100, "time": "t1", "status_code": None,
         "acknowledged": False, "error": "ConnectionError: refused", "retry_due": "t3"},
        {"order_id": "o", "notification": 1, "attempt": 2, "timestamp": 101, "time": "t2", "status_code": 200,
         "acknowledged": True, "error": None, "retry_due": None},
    ]  # fmt: skip
    records = [
        {"order_id": "o", "timestamp": "100", "status": "completed", "verified": False, "reason": "storage"},
        {"order_id": "o", "timestamp": "101", "status": "completed", "verified": True, "duplicate": False},
        {"order_id": "o", "timestamp": "555", "status": "void", "verified": True, "duplicate": True,
         "received_at": "2026-01-01 12:00:00"},
    ]  # fmt: skip
    timeline = delivery_timeline(deliveries, records)
    assert [(r["notification"], r["attempt"], r["status"], r["verified"]) for r in timeline] == [
        (1, 1, "completed", False), (2, 1, None, None), (1, 2, "completed", True), (None, None, "void", True),
    ]  # fmt: skip
    assert timeline[3]["duplicate"] and timeline[3]["acknowledged"] and timeline[3]["time"] == "2026-01-01 12:00:00"
    # notification 1 was acknowledged at its second attempt; notification 2 still has its retry coming
    assert retries_due(deliveries) == [{"notification": 2, "attempt": 2, "due": "t3"}]


def test_refresh_gets_the_order(client: Client, sandbox: Sandbox) -> None:
    create(client, "my-order-id-1")  # no notification_url: only Refresh can tell
    tracker = widgets.status_tracker("my-order-id-1", client=client)
    sandbox.pay("my-order-id-1", "completed")
    assert ">completed</span>" not in tracker.status.value

    tracker.refresh.click()

    assert tracker.status.value.count(">completed</span>") == 2
    assert tracker.refresh in tracker.children


def test_refresh_shows_an_unknown_order_inline(client: Client) -> None:
    tracker = widgets.status_tracker("no-such-order", client=client)
    tracker.refresh.click()  # does not raise
    assert 'class="msp-error"' in tracker.status.value
    assert "NotFoundError" in tracker.status.value and "1006" in tracker.status.value


def test_a_tracker_without_client_has_no_refresh_button() -> None:
    tracker = widgets.status_tracker("x")
    assert not hasattr(tracker, "refresh") and tracker.children == (tracker.status, tracker.timeline, tracker.note)


def test_the_tracker_reads_well_where_widgets_cannot_be_drawn(
    client: Client, receiver: WebhookReceiver, sandbox: Sandbox
) -> None:
    create(client, "tracked", receiver.url)
    tracker = widgets.status_tracker("tracked", receiver=receiver, client=client)
    sandbox.pay("tracked", "declined")
    settle(tracker, 1)
    bundle = tracker._repr_mimebundle_()
    assert bundle["text/plain"].startswith("<StatusTracker: tracked: declined / declined; 1 webhook attempt(s)")
    assert ">declined</span>" in bundle["text/html"] and 'class="msp-timeline"' in bundle["text/html"]


# -- from other threads ----------------------------------------------------------------------------------
def test_a_button_clicked_in_another_thread_updates_the_tracker(client: Client, receiver: WebhookReceiver) -> None:
    create(client, "threaded", receiver.url)
    tracker = widgets.status_tracker("threaded", receiver=receiver, client=client)
    panel = widgets.payment_panel(client, "threaded", tracker=tracker)
    seen_in: list[str] = []
    tracker.on_change(lambda order: seen_in.append(threading.current_thread().name))

    clicker = threading.Thread(target=panel.buttons[1].click, name="not-the-kernel")
    clicker.start()
    clicker.join(10)

    assert not clicker.is_alive()
    assert tracker.status.value.count(">declined</span>") == 2
    settle(tracker, 1)
    assert rows(tracker)[0][1:4] == ["#1 attempt 1", "declined / declined", "200"]
    assert all(b.disabled for b in panel.buttons)
    # told in the receiver's server thread, neither the clicking thread nor this one
    assert seen_in and threading.main_thread().name not in seen_in and "not-the-kernel" not in seen_in


def test_concurrent_notifications_and_refreshes_leave_a_consistent_tracker(
    client: Client, receiver: WebhookReceiver, sandbox: Sandbox
) -> None:
    orders = [f"busy-{n}" for n in range(6)]
    for order_id in orders:
        create(client, order_id, receiver.url)
    trackers = {order_id: widgets.status_tracker(order_id, receiver=receiver, client=client) for order_id in orders}
    outcomes = ["completed", "declined"] * 3

    def pay(order_id: str, outcome: str) -> None:
        sandbox.pay(order_id, outcome)
        trackers[order_id].update(get=True)

    threads = [threading.Thread(target=pay, args=pair) for pair in zip(orders, outcomes, strict=True)]
    threads += [threading.Thread(target=t.update) for t in trackers.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    for order_id, outcome in zip(orders, outcomes, strict=True):
        tracker = trackers[order_id]
        settle(tracker, 1)
        assert tracker.status.value.count(f">{outcome}</span>") == 2, order_id
        [row] = rows(tracker)
        assert re.fullmatch(r"#\d attempt 1", row[1]) and row[2] == f"{outcome} / {outcome}", order_id


# -- waiting ---------------------------------------------------------------------------------------------
def test_wait_ends_at_any_final_status(client: Client, receiver: WebhookReceiver, sandbox: Sandbox) -> None:
    create(client, "waited", receiver.url)
    tracker = widgets.status_tracker("waited", receiver=receiver, client=client)
    threading.Timer(0.3, sandbox.pay, args=("waited", "expired")).start()

    started = time.monotonic()
    final = tracker.wait(timeout=20, poll=30)  # no GET in time: only the notification can end it this early
    assert final == {"order_id": "waited", "status": "expired", "financial_status": "expired"}
    assert time.monotonic() - started < 5  # woken by the notification, not by polling or the timeout
    assert "waited: reached expired / expired" in tracker.note.value


def test_wait_says_where_the_order_stands_when_it_gives_up(client: Client, sandbox: Sandbox) -> None:
    create(client, "undecided")
    sandbox.pay("undecided", "uncleared")  # decided later: not final
    tracker = widgets.status_tracker("undecided", client=client)

    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"undecided is still uncleared / uncleared after 0.5 s: pay it on"):
        tracker.wait(timeout=0.5, poll=0.1)
    assert time.monotonic() - started < 5
    assert "gave up after 0.5 s: still uncleared / uncleared" in tracker.note.value
    assert "client.sandbox.advance(seconds)" in tracker.note.value


def test_wait_can_stop_at_a_status_of_your_choice(client: Client, sandbox: Sandbox) -> None:
    create(client, "held")
    sandbox.pay("held", "uncleared")
    tracker = widgets.status_tracker("held", client=client)
    assert tracker.wait(timeout=5, until=["uncleared"])["status"] == "uncleared"  # found by GET, no webhook
