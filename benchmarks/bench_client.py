"""How much faster ``Client.get_orders`` fetches 200 orders than a loop of ``requests.get``, at the real API's latency.

What a user meets is the network: MultiSafepay's API answers from another continent, tens of
milliseconds away. So the sandbox is served here through a WSGI middleware that answers every request
``--latency`` seconds late (default 0.04, a round trip to the API from Europe), and both sides fetch the
same orders through it:

- the baseline is what a first notebook does: ``requests.get`` per order, one after the other;
- ``get_orders`` keeps its default 8 requests in flight over one pooled session, so their waits overlap.

A loopback without the latency would measure CPU only, which is not what a user waits for.

    python benchmarks/bench_client.py            # exits 1 if the target ratio is missed
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bar while timing

import requests  # noqa: E402

from msp_explore._server import BackgroundServer  # noqa: E402
from msp_explore.client import Client  # noqa: E402
from msp_explore.sandbox import Sandbox  # noqa: E402

TARGET = 6.0


class Late:
    """WSGI middleware: every answer ``seconds`` late, as across a network."""

    def __init__(self, app: Callable[..., Iterable[bytes]], seconds: float) -> None:
        self.app, self.seconds = app, seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(self.seconds)
        return self.app(environ, start_response)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.04, help="seconds each answer comes late")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with Sandbox(seed=0) as sandbox:
        ids = [f"bench-{i:04d}" for i in range(args.orders)]
        with Client(sandbox.api_key, base_url=sandbox.url) as setup:
            for order_id in ids:
                setup.create_order(order_id=order_id, currency="EUR", amount=1000, description="Benchmark")
        with BackgroundServer(Late(sandbox.app, args.latency)) as far:
            base = far.url_for("/v1/json")
            headers = {"api_key": sandbox.api_key, "Accept": "application/json"}

            def loop() -> list[Any]:
                return [requests.get(f"{base}/orders/{quote(i, safe='')}", headers=headers, timeout=10) for i in ids]

            with Client(sandbox.api_key, base_url=base) as client:
                same = [r.json()["data"] for r in loop()] == [dict(o) for o in client.get_orders(ids)]
                if not same:
                    print("get_orders and the loop did not read the same orders", file=sys.stderr)
                    return 2
                ratios, times = [], []
                for round_ in range(args.rounds):
                    # ABBA: the two sides take turns going first, so drift in the machine's load evens out
                    sides = [("loop", loop), ("get_orders", lambda: client.get_orders(ids))]
                    timed: dict[str, float] = {}
                    for name, run in sides if round_ % 2 == 0 else reversed(sides):
                        began = time.perf_counter()
                        run()
                        timed[name] = time.perf_counter() - began
                    ratios.append(timed["loop"] / timed["get_orders"])
                    times.append(timed)
    ratio = statistics.median(ratios)
    loop_s = statistics.median(t["loop"] for t in times)
    ours_s = statistics.median(t["get_orders"] for t in times)
    print(f"get_orders({args.orders}) vs a requests.get loop, {args.latency * 1000:.0f} ms per answer: "
          f"{ratio:.1f}x (target >= {TARGET:.0f}x)")  # fmt: skip
    print(f"  loop {loop_s:.2f} s, get_orders {ours_s:.2f} s (medians of {args.rounds} rounds; "
          f"per-round ratios {min(ratios):.1f}-{max(ratios):.1f}x; 8 in flight)")  # fmt: skip
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
