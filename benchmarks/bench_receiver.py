"""Can the webhook receiver keep up? Verified-and-stored notifications per second against a bare ``OK``.

Both servers are the same runner (``BackgroundServer``: cheroot, on daemon threads) and get the same
load from a separate process (``_load.py``): ``CLIENT_THREADS`` threads, each with its own
``http.client`` connection, POSTing pre-signed notifications (realistic orders from
``_orders.make_orders``, compact JSON, a valid ``Auth`` header, ``?transactionid=...&timestamp=...``).

* bare: a Flask route that reads the body and answers ``OK``.
* receiver: ``WebhookReceiver`` with a ``Journal`` on a temporary file: check the HMAC and the timestamp,
  parse the body, look for an earlier copy, INSERT and commit (WAL, ``synchronous=FULL``: an fsync per
  notification), and only then answer ``OK``.

Target: the receiver sustains at least 0.50 of the bare route's rate. Rounds alternate ABBA after a
warm-up; every round sends the receiver notifications it has not seen, so nothing is a duplicate; the
ratio is the median of the per-round ratios. The clients keep their connections alive for as long as
``BackgroundServer`` lets them, which is the same for both sides. Exits 1 when the target is missed.

``--breakdown`` also times the receiver's steps one by one, in-process and single-threaded.
``--journal NORMAL`` (no fsync per commit) and ``--journal none`` (records in memory) run the same
comparison to show what storage costs; the target is judged only with the journal as it ships (FULL).

    .venv/bin/python benchmarks/bench_receiver.py                 # about 30-60 s
    .venv/bin/python benchmarks/bench_receiver.py --quick         # a smoke run, a few seconds
    .venv/bin/python benchmarks/bench_receiver.py --breakdown     # plus where the time goes
    .venv/bin/python benchmarks/bench_receiver.py --journal none  # the receiver without storage
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _load import load_generator
from _orders import make_orders
from flask import Flask, Response, request

from msp_explore._server import BackgroundServer
from msp_explore.journal import Journal
from msp_explore.receiver import WebhookReceiver
from msp_explore.webhooks import encode_body, sign_notification, verify_notification

TARGET = 0.50  # receiver rate / bare OK rate, at least
CLIENT_THREADS = 4
KEY = "bench-receiver-key"
Request = tuple[str, bytes, dict[str, str]]  # path with query, body, headers


def bare_app() -> Flask:
    """The least a notification endpoint can do: read the body, answer OK."""
    app = Flask("bare")

    @app.post("/webhook")
    def webhook() -> Response:
        request.get_data()
        return Response("OK", mimetype="text/plain")

    return app


def signed_requests(orders: list[dict[str, Any]]) -> list[Request]:
    """Notifications as MultiSafepay sends them, signed now (well inside the receiver's 600 s window)."""
    ts = int(time.time())
    batch = []
    for order in orders:
        body = encode_body(order)
        headers = {"Auth": sign_notification(body, KEY, ts), "Content-Type": "application/json"}
        batch.append((f"/webhook?transactionid={order['order_id']}&timestamp={ts}", body, headers))
    return batch


# -- the comparison -----------------------------------------------------------------------------------------
def bench(rounds: int, per_round: int, warmup: int, store: str = "FULL") -> float:
    # One fresh slice of orders per receiver round (and one for the warm-up): none is ever a resend.
    orders = make_orders(warmup + rounds * per_round, seed=7)
    slices = [orders[:warmup]] + [orders[warmup + r * per_round : warmup + (r + 1) * per_round] for r in range(rounds)]
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "journal.sqlite")
        if store == "NORMAL":
            with_synchronous(journal, "NORMAL")
        receiver = WebhookReceiver(KEY, journal=None if store == "none" else journal)
        with journal, receiver, BackgroundServer(bare_app()) as bare:
            with load_generator() as drive:

                def measure(port: int, batch: list[Request]) -> dict[str, float]:
                    gc.collect()
                    posts = [("POST", path, body, headers) for path, body, headers in batch]
                    result = drive(port, posts, CLIENT_THREADS, expect=b"OK")
                    assert result["failures"] == 0, result
                    return result

                warm = signed_requests(slices[0])
                measure(receiver.server.port, warm), measure(bare.port, warm)  # imports, caches, first connections
                ratios, ours, theirs, client_cpu = [], [], [], []
                for r in range(rounds):
                    batch = signed_requests(slices[r + 1])  # signed outside the timed part
                    if r % 2 == 0:  # ABBA: neither side is always first
                        mine, base = measure(receiver.server.port, batch), measure(bare.port, batch)
                    else:
                        base, mine = measure(bare.port, batch), measure(receiver.server.port, batch)
                    ratios.append(mine["rps"] / base["rps"])
                    ours.append(mine["rps"])
                    theirs.append(base["rps"])
                    client_cpu += [mine["client_cpu"], base["client_cpu"]]

            # Everything acknowledged is stored, verified, once.
            frame = receiver.notifications if store == "none" else journal.notifications_frame()
            assert len(frame) == warmup + rounds * per_round, len(frame)
            assert frame["verified"].all() and not frame["duplicate"].any()
            assert frame["order_id"].is_unique

    ratio = statistics.median(ratios)
    policy = "" if store == "FULL" else f" [--journal {store}: exploration only]"
    print(f"receiver verified+stored vs bare OK: {ratio:.2f} (target >= {TARGET:.2f}){policy}")
    print(
        f"  receiver {statistics.median(ours):.0f} notifications/s, bare OK {statistics.median(theirs):.0f} req/s;"
        f" per-round ratios {min(ratios):.2f}-{max(ratios):.2f}; {rounds} rounds x {per_round} notifications"
        f" ({statistics.mean(len(encode_body(o)) for o in slices[1]):.0f} B bodies),"
        f" {CLIENT_THREADS} client threads; load generator busy {statistics.median(client_cpu):.0%} of one core"
    )
    return ratio


# -- where the time goes ------------------------------------------------------------------------------------
def with_synchronous(journal: Journal, mode: str) -> Journal:
    """Switch a journal's fsync policy: only to estimate what fewer fsyncs would buy, never the default."""
    assert journal._conn is not None
    journal._conn.execute(f"PRAGMA synchronous={mode}")
    return journal


def breakdown(n: int = 2000, chunk: int = 50) -> None:
    """Each step of ``WebhookReceiver.handle`` alone, single-threaded, in microseconds per notification.

    The steps take turns in chunks of ``chunk`` notifications, so a noisy disk or a busy neighbour on a
    shared machine weighs on all of them alike.
    """
    batch = signed_requests(make_orders(3 * n, seed=11))
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        full = Journal(Path(tmp) / "full.sqlite")
        normal = with_synchronous(Journal(Path(tmp) / "normal.sqlite"), "NORMAL")
        handled = Journal(Path(tmp) / "handle.sqlite")
        receiver = WebhookReceiver(KEY, journal=handled)

        def record(journal: Journal) -> Any:
            def step(req: Request) -> None:
                journal.record_notification(order_id=None, body=req[1], query={}, headers=req[2], verified=True)

            return step

        steps = {  # label: (function, its own notifications, so that none is a duplicate)
            "verify Auth (HMAC-SHA512 + timestamp)": (
                lambda req: verify_notification(req[1], req[2]["Auth"], KEY, now=now),
                batch[:n],
            ),
            "json.loads of the body": (lambda req: json.loads(req[1]), batch[:n]),
            "Journal.record_notification, FULL": (record(full), batch[:n]),
            "Journal.record_notification, NORMAL": (record(normal), batch[n : 2 * n]),
            "WebhookReceiver.handle (FULL), no HTTP": (
                lambda req: receiver.handle("POST", req[1], {}, req[2]),
                batch[2 * n :],
            ),
        }
        totals = dict.fromkeys(steps, 0.0)
        gc.collect()
        for start in range(0, n, chunk):
            for label, (step, items) in steps.items():
                began = time.perf_counter()
                for item in items[start : start + chunk]:
                    step(item)
                totals[label] += time.perf_counter() - began
        for journal in (full, normal, handled):
            journal.close()
    print(f"  breakdown, single-threaded, per notification ({n} each, taking turns):")
    for label, total in totals.items():
        print(f"    {label:<40} {total / n * 1e6:8.1f} us")
    fsync = (totals["Journal.record_notification, FULL"] - totals["Journal.record_notification, NORMAL"]) / n
    handle = totals["WebhookReceiver.handle (FULL), no HTTP"] / n
    print(f"    => the commit's fsync is about {fsync * 1e6:.0f} us, {fsync / handle:.0%} of handle()")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds' smoke run; numbers are rough")
    parser.add_argument("--breakdown", action="store_true", help="also time the receiver's steps one by one")
    parser.add_argument(
        "--journal",
        choices=["FULL", "NORMAL", "none"],
        default="FULL",
        help="the receiver's journal: FULL as it ships (the default, and the one the target is judged on);"
        " NORMAL (no fsync per commit) or none (in memory) only to see what storage costs",
    )
    args = parser.parse_args(argv)
    if args.quick:
        ratio = bench(rounds=2, per_round=500, warmup=100, store=args.journal)
    else:
        ratio = bench(rounds=8, per_round=2000, warmup=300, store=args.journal)
    if args.breakdown:
        breakdown(500 if args.quick else 2000)
    if ratio < TARGET:
        print("the speed target was missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
