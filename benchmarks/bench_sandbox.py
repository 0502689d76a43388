"""How much the sandbox costs on top of the plain HTTP it is built from, as ratios measured side by side.

1. ``GET /orders/{id}`` throughput, against a bare Flask route that serves the identical response bytes
   from the same kind of server (``BackgroundServer``: cheroot, on daemon threads, connections kept alive).
   Target: at least 0.50 of the bare route.
2. ``Sandbox.pay()`` until the webhook is acknowledged (``sync_notifications=True`` delivers before
   ``pay`` returns), against the plain HTTP it is made of. ``pay`` is a POST to the sandbox's control
   endpoint, during which the sandbox POSTs the notification to the receiver; the baseline is the same
   two requests between bare parts: a POST to a bare route on the same kind of server, which POSTs the
   same body bytes to the same receiver before it answers. Target: at most 2.0 times the baseline.
   (A lone POST to the receiver is shown too: pay-to-ack is two round trips, so it cannot get near 1.0.)

Shared machines are noisy, so nothing here is an absolute number to compare across runs: both sides of a
ratio are measured in the same run, alternating, after a warm-up, and summarised by medians. The load for
(1) comes from a separate process, so that the client's own Python does not compete with the servers
for the GIL. Exits 1 when a target is missed.

    .venv/bin/python benchmarks/bench_sandbox.py            # 30-45 s
    .venv/bin/python benchmarks/bench_sandbox.py --quick    # a smoke run of about 5 s; rough numbers
"""

from __future__ import annotations

import argparse
import gc
import http.client
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import requests
from _load import load_generator
from flask import Flask, Response, request
from werkzeug.test import EnvironBuilder

from msp_explore._server import BackgroundServer
from msp_explore.sandbox import Sandbox

GET_TARGET = 0.50  # sandbox GET throughput / bare route throughput, at least
WEBHOOK_TARGET = 2.0  # pay-to-ack time / the same two POSTs between bare parts, at most
CLIENT_THREADS = 4  # load-generator threads, each with its own connection


# -- shared helpers -------------------------------------------------------------------------------------
def order_body(order_id: str, notification_url: str | None = None) -> dict[str, Any]:
    """A redirect order with the customer details a real checkout sends."""
    body: dict[str, Any] = {
        "type": "redirect",
        "order_id": order_id,
        "currency": "EUR",
        "amount": 1000 + len(order_id),
        "description": f"Benchmark order {order_id}",
        "customer": {
            "locale": "nl_NL",
            "first_name": "Jan",
            "last_name": "Jansen",
            "address1": "Kraanspoor",
            "house_number": "39C",
            "zip_code": "1033SC",
            "city": "Amsterdam",
            "country": "NL",
            "email": "jan@example.com",
        },
    }
    if notification_url:
        body["payment_options"] = {"notification_url": notification_url, "notification_method": "POST"}
    return body


def create_orders(sandbox: Sandbox, order_ids: list[str], notification_url: str | None = None) -> None:
    """Create orders through the public API, the way a shop would (outside any timed region)."""
    with requests.Session() as session:
        session.trust_env = False
        session.headers["api_key"] = sandbox.api_key
        for order_id in order_ids:
            response = session.post(f"{sandbox.url}/orders", json=order_body(order_id, notification_url))
            response.raise_for_status()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


# -- 1. GET /orders/{id} throughput ---------------------------------------------------------------------
def bare_app(responses: dict[str, bytes]) -> Flask:
    """The least a Flask app can do to answer GET /orders/{id}: look the bytes up and return them."""
    app = Flask("bare")

    @app.get("/v1/json/orders/<path:order_id>")
    def get_order(order_id: str) -> Response:
        return Response(responses[order_id], mimetype="application/json")

    return app


def fetch(port: int, path: str, headers: dict[str, str]) -> tuple[int, str | None, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def per_call(app: Flask, environs: list[dict[str, Any]], calls: int) -> float:
    """Median seconds for one WSGI call of ``app``, body included: the app's own cost, without a server."""

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        pass

    samples = []
    for i in range(calls):
        environ = dict(environs[i % len(environs)])
        began = time.perf_counter()
        b"".join(app(environ, start_response))
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def bench_get(rounds: int, requests_per_round: int, n_orders: int) -> float:
    headers = {"api_key": ""}
    with Sandbox(seed=0) as sandbox:
        headers["api_key"] = sandbox.api_key
        order_ids = [f"bench-get-{i:05d}" for i in range(n_orders)]
        create_orders(sandbox, order_ids)
        for i, order_id in enumerate(order_ids):  # a mix of paid, failed and open orders, as in a real shop
            if i % 4 != 3:
                sandbox.pay(order_id, ("completed", "declined", "cancelled")[i % 4])
        paths = [f"/v1/json/orders/{order_ids[i % n_orders]}" for i in range(requests_per_round)]

        sandbox_port = sandbox.server.port
        responses = {oid: fetch(sandbox_port, f"/v1/json/orders/{oid}", headers)[2] for oid in order_ids}
        bare_wsgi = bare_app(responses)
        with BackgroundServer(bare_wsgi) as bare:
            for oid in order_ids[:20]:  # same status, type and bytes, or the comparison means nothing
                path = f"/v1/json/orders/{oid}"
                reply, bare_reply = fetch(sandbox_port, path, headers), fetch(bare.port, path, headers)
                assert reply == bare_reply and reply[0] == 200, (reply, bare_reply)

            gets = [("GET", path, None, headers) for path in paths]
            with load_generator() as drive:

                def measure(port: int) -> dict[str, float]:
                    gc.collect()
                    cpu = time.process_time()  # this process runs both servers; its main thread only waits
                    result = drive(port, gets, CLIENT_THREADS)
                    assert result["failures"] == 0, result
                    result["server_cpu"] = (time.process_time() - cpu) / result["seconds"]
                    return result

                measure(sandbox_port), measure(bare.port)  # warm-up: imports, caches, first connections
                pairs = []  # (sandbox run, bare run) per round
                for r in range(rounds):
                    # ABBA: both sides of a round run back to back, and neither is always first
                    if r % 2 == 0:
                        ours = measure(sandbox_port)
                        theirs = measure(bare.port)
                    else:
                        theirs = measure(bare.port)
                        ours = measure(sandbox_port)
                    pairs.append((ours, theirs))

        # The same two apps called directly: what the sandbox itself adds, without the server's share.
        environs = [EnvironBuilder(path=f"/v1/json/orders/{oid}", headers=headers).get_environ() for oid in order_ids]
        app_times: dict[str, list[float]] = {"sandbox": [], "bare": []}
        for _ in range(20):  # short alternating stretches, so background load hits both alike
            app_times["sandbox"].append(per_call(sandbox.app, environs, 200))
            app_times["bare"].append(per_call(bare_wsgi, environs, 200))

    ratios = [ours["rps"] / theirs["rps"] for ours, theirs in pairs]
    runs = [run for pair in pairs for run in pair]
    ratio = statistics.median(ratios)
    ours_app, bare_app_time = (statistics.median(app_times[k]) * 1e6 for k in ("sandbox", "bare"))
    print(f"GET /orders/{{id}} vs bare Flask route: {ratio:.2f} (target >= {GET_TARGET:.2f})")
    print(
        f"  sandbox {statistics.median(p[0]['rps'] for p in pairs):.0f} req/s,"
        f" bare {statistics.median(p[1]['rps'] for p in pairs):.0f} req/s;"
        f" per-round ratios {min(ratios):.2f}-{max(ratios):.2f} over {rounds} rounds of {requests_per_round};"
        f" {CLIENT_THREADS} client threads, connections reused {statistics.median(r['reused'] for r in runs):.0%};"
        f" servers busy {statistics.median(r['server_cpu'] for r in runs):.0%},"
        f" load generator {statistics.median(r['client_cpu'] for r in runs):.0%} of one core"
    )
    print(
        f"  the app alone (WSGI call, no server): sandbox {ours_app:.0f} us, bare {bare_app_time:.0f} us"
        f" per request, ratio {bare_app_time / ours_app:.2f}"
    )
    return ratio


# -- 2. payment to acknowledged webhook ---------------------------------------------------------------
def receiver_app(bodies: dict[str, bytes]) -> Flask:
    """A shop's notification endpoint at its simplest: read the body, answer OK."""
    app = Flask("receiver")

    @app.post("/webhook")
    def webhook() -> str:
        bodies[request.args.get("transactionid", "")] = request.get_data()
        return "OK"

    return app


def relay_app(last: dict[str, Any]) -> Flask:
    """What pay does, at its plainest: take a POST, POST the notification to the receiver, answer."""
    app = Flask("relay")
    session = requests.Session()
    session.trust_env = False

    @app.post("/pay")
    def pay() -> str:
        response = session.post(last["url"], data=last["body"], headers={"Content-Type": "application/json"})
        assert response.text == "OK"
        return "paid"

    return app


def timed(samples: list[float], func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            samples.append(time.perf_counter() - began)

    return wrapper


def bench_webhook(triplets: int, warmup: int) -> float:
    bodies: dict[str, bytes] = {}
    last: dict[str, Any] = {}
    with (
        BackgroundServer(receiver_app(bodies)) as receiver,
        BackgroundServer(relay_app(last)) as relay,
        Sandbox(seed=0, sync_notifications=True) as sandbox,
    ):
        total = triplets + warmup
        notified = [f"bench-hook-{i:05d}" for i in range(total)]
        silent = [f"bench-quiet-{i:05d}" for i in range(total)]
        create_orders(sandbox, notified, receiver.url_for("/webhook?type=notification"))
        create_orders(sandbox, silent)

        # The notifier's own time inside pay(): signing, the POST, reading the answer, keeping the record.
        delivery: list[float] = []
        sandbox.notifier.send = timed(delivery, sandbox.notifier.send)  # type: ignore[method-assign]

        # One Session without proxy lookups: the footing the notifier's own per-thread Session has.
        plain = requests.Session()
        plain.trust_env = False
        json_header = {"Content-Type": "application/json"}
        relay_url = relay.url_for("/pay")

        def pay_to_ack(order_id: str) -> float:
            began = time.perf_counter()
            sandbox.pay(order_id, "completed")
            elapsed = time.perf_counter() - began
            record = sandbox.deliveries[-1]
            assert record["order_id"] == order_id and record["acknowledged"], record
            last.update(url=record["url"], body=bodies[order_id])
            return elapsed

        def plain_post(_: str) -> float:
            began = time.perf_counter()
            response = plain.post(last["url"], data=last["body"], headers=json_header)
            elapsed = time.perf_counter() - began
            assert response.status_code == 200 and response.text == "OK", response
            return elapsed

        def bare_pay(_: str) -> float:
            began = time.perf_counter()
            response = plain.post(relay_url, json={"scenario": "completed"})
            elapsed = time.perf_counter() - began
            assert response.text == "paid", response
            return elapsed

        def pay_only(order_id: str) -> float:
            began = time.perf_counter()
            sandbox.pay(order_id, "completed")
            return time.perf_counter() - began

        pay_to_ack(notified[0])  # plain_post needs one delivered notification to copy
        samples: dict[str, list[float]] = {"ack": [], "bare": [], "post": [], "quiet": []}
        steps = [
            ("ack", pay_to_ack, notified), ("bare", bare_pay, notified),
            ("post", plain_post, notified), ("quiet", pay_only, silent),
        ]  # fmt: skip
        gc.collect()
        for i in range(1, total):
            # Rotate the order each time: whatever is first or last in a triplet is first or last equally often.
            for name, step, ids in steps[i % 4 :] + steps[: i % 4]:
                elapsed = step(ids[i])
                if i > warmup:
                    samples[name].append(elapsed)
        plain.close()
        delivered = delivery[warmup + 1 :]

    ack, bare, post, quiet = (median_ms(samples[k]) for k in ("ack", "bare", "post", "quiet"))
    ratio = ack / bare
    print(f"pay-to-ack vs the same two POSTs between bare parts: {ratio:.2f} (target <= {WEBHOOK_TARGET:.2f})")
    print(
        f"  pay-to-ack {ack:.3f} ms, bare pay-and-notify {bare:.3f} ms, a lone POST to the receiver {post:.3f} ms"
        f" (pay-to-ack / lone POST {ack / post:.2f}; medians of {len(samples['post'])},"
        " interleaved with pay() of orders without a webhook)"
    )
    print(
        f"  webhook delivery alone vs plain POST: {median_ms(delivered) / post:.2f}"
        f" (Notifier.send inside pay: {median_ms(delivered):.3f} ms);"
        f" (pay-to-ack - pay without webhook) vs plain POST: {(ack - quiet) / post:.2f}"
        f" (pay without webhook {quiet:.3f} ms)"
    )
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds' smoke run; numbers are rough")
    args = parser.parse_args(argv)
    if args.quick:
        get_ratio = bench_get(rounds=2, requests_per_round=500, n_orders=50)
        hook_ratio = bench_webhook(triplets=100, warmup=20)
    else:
        get_ratio = bench_get(rounds=14, requests_per_round=700, n_orders=400)
        hook_ratio = bench_webhook(triplets=600, warmup=60)
    missed = get_ratio < GET_TARGET or hook_ratio > WEBHOOK_TARGET
    if missed:
        print("a speed target was missed", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
