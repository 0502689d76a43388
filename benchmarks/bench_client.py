"""How much faster ``Client.get_orders`` fetches 1,000 orders than a naive ``requests.get`` loop.

The naive loop is what a first notebook does: one ``requests.get`` per order, each on a fresh
connection (no session), one after the other, with the same headers. ``get_orders`` keeps its default
number of requests in flight over one pooled session (4 for a server elsewhere on this machine, 1 for one
in this process; ``--workers`` sets another). Both read the same orders from one sandbox.

The sandbox runs in its own process (``msp-explore sandbox``), as the real API runs on another
machine; ``--in-process`` serves it from a thread of this process instead, as ``connect()`` does, where
client and server take turns on one interpreter lock.

What to expect: the naive loop pays for a new session, TCP connection and server thread per order;
get_orders reuses kept-alive connections and prepares its request once. On a loopback there is no
network latency to overlap, only CPU, so the ratio swings with the machine's load (about 3.5-4.5x with
two free cores, less when other jobs leave one). Against the real API, where every naive call pays a TCP and
TLS handshake plus a round trip, the gain is far larger.

    python benchmarks/bench_client.py            # exits 1 if the target ratio is missed
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bar while timing

import requests  # noqa: E402

from msp_explore._batch import in_flight  # noqa: E402
from msp_explore.client import Client  # noqa: E402
from msp_explore.sandbox import DEFAULT_API_KEY, Sandbox  # noqa: E402

TARGET = 3.0


@contextmanager
def sandbox_url(in_process: bool) -> Iterator[str]:
    """Start a seeded sandbox and give its API base URL."""
    if in_process:
        with Sandbox(seed=0) as sandbox:
            yield sandbox.url
        return
    command = [sys.executable, "-m", "msp_explore", "sandbox", "--port", "0", "--seed", "0"]
    server = subprocess.Popen([*command, "--api-key", DEFAULT_API_KEY], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "MultiSafepay sandbox at http://127.0.0.1:PORT/v1/json"
        if " at " not in line:
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        yield line.split(" at ", 1)[1].strip()
    finally:
        server.terminate()
        server.wait(timeout=10)


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None, help="requests in flight (default: get_orders' own)")
    parser.add_argument("--runs", type=int, default=5, help="timed pairs (naive, then get_orders)")
    parser.add_argument("--in-process", action="store_true", help="serve the sandbox from a thread here")
    args = parser.parse_args(argv)

    with sandbox_url(args.in_process) as url, Client(DEFAULT_API_KEY, base_url=url) as client:
        workers = args.workers or in_flight(url)
        ids = [f"bench-{i:05d}" for i in range(args.orders)]
        for order_id in ids:
            client.create_order(order_id=order_id, currency="EUR", amount=1000, description="Benchmark order")
        headers = {"api_key": DEFAULT_API_KEY, "Accept": "application/json"}

        def naive() -> list[object]:
            orders = []
            for order_id in ids:
                response = requests.get(f"{url}/orders/{quote(order_id, safe='')}", headers=headers, timeout=10)
                orders.append(response.json()["data"])
            return orders

        def pooled() -> list[object]:
            return list(client.get_orders(ids, max_workers=workers, progress=False))

        assert naive() == pooled()  # the same work, and a warm-up for both
        # Shared machines are noisy: time the two side by side, in pairs, and take the median pair, so
        # that both sides of each ratio saw the same load.
        pairs = sorted(((timed(naive), timed(pooled)) for _ in range(args.runs)), key=lambda p: p[0] / p[1])
        naive_time, pooled_time = pairs[len(pairs) // 2]

    ratio = naive_time / pooled_time
    where = "in this process" if args.in_process else "in its own process"
    print(f"sandbox {where}; {args.orders} orders; {workers} in flight; median of {args.runs} pairs")
    print(f"requests.get loop: {naive_time:.3f} s; get_orders: {pooled_time:.3f} s")
    print("all pairs: " + ", ".join(f"{n / p:.1f}x" for n, p in pairs))
    print(f"get_orders({args.orders}) vs requests.get loop: {ratio:.1f}x (target >= {TARGET:g}x)")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
