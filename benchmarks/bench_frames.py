"""How much faster msp_explore.frames is than pandas.json_normalize, measured in one run.

    .venv/bin/python benchmarks/bench_frames.py            # 100,000 orders
    .venv/bin/python benchmarks/bench_frames.py --n 20000

Two comparisons, each checked for equal content before anything is timed:

1. ``order_frames(orders)`` on in-memory dicts against ``pd.json_normalize`` for the orders, costs and
   payment_methods tables (target: >= 3x faster). Both run on one thread, so they are compared by
   CPU time, which other processes on a shared machine disturb far less than wall-clock time (shown
   too). The standalone ``*_frame`` functions are shown against their own json_normalize call, for
   information.
2. ``load_orders(path)`` on a JSON Lines file against ``[json.loads(line) for line in f]`` followed
   by the same json_normalize calls (targets: >= 8x faster by wall-clock time, as pyarrow parses on
   several threads; peak memory <= 1.0x). Each route runs
   in a fresh subprocess, so its peak resident memory (``VmHWM``; pyarrow allocates outside
   tracemalloc's view) is its own. Both subprocesses import the same modules before measuring.

Times are the best of ``--repeat`` runs (two at most for the subprocesses), the compared routes
taking turns. Exits 1 when a target is missed; the targets are for the default 100,000 orders (a
small ``--n`` mostly measures fixed costs, such as pyarrow's first calls).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _orders import make_orders, write_jsonl  # noqa: E402

from msp_explore.frames import (  # noqa: E402
    CURRENCY_EXPONENTS,
    costs_frame,
    load_orders,
    order_frames,
    orders_frame,
    payment_methods_frame,
)

KEYS = ["order_id", "transaction_id"]
TARGET_SPEED_IN_MEMORY = 3.0
TARGET_SPEED_LOAD = 8.0
TARGET_MEMORY_LOAD = 1.0


# -- the json_normalize route ----------------------------------------------------------------------
def normalize_orders(orders: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.json_normalize(orders, sep=".")


def normalize_costs(orders: list[dict[str, Any]]) -> pd.DataFrame:
    # a cost has a transaction_id of its own, so the order's keys need a prefix
    return pd.json_normalize(orders, record_path="costs", meta=KEYS, meta_prefix="order.")


def normalize_payment_methods(orders: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.json_normalize(orders, record_path="payment_methods", meta=KEYS)


def normalize_all(orders: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    return {
        "orders": normalize_orders(orders),
        "costs": normalize_costs(orders),
        "payment_methods": normalize_payment_methods(orders),
    }


# -- equal content ---------------------------------------------------------------------------------
def _as_text(column: pd.Series) -> list[Any]:
    values = column.astype(object)
    return values.where(column.notna(), None).tolist()


def _same_column(table: str, name: str, ours: pd.Series, theirs: pd.Series) -> None:
    where = f"{table}.{name}"
    if pd.api.types.is_datetime64_any_dtype(ours.dtype):
        assert _as_text(ours.dt.strftime("%Y-%m-%dT%H:%M:%S")) == _as_text(theirs), where
    elif isinstance(ours.dtype, (pd.StringDtype, pd.CategoricalDtype)) or ours.dtype == object:
        if pd.api.types.is_float_dtype(theirs.dtype):  # whole numbers with gaps: json_normalize made floats
            theirs = theirs.astype("Int64")
        if ours.dtype == object:
            assert _as_text(ours) == _as_text(theirs), where
        else:
            assert _as_text(ours) == [None if v is None else str(v) for v in _as_text(theirs)], where
    else:
        a = ours.to_numpy(dtype=np.float64, na_value=np.nan)
        b = theirs.to_numpy(dtype=np.float64, na_value=np.nan)
        assert np.array_equal(a, b, equal_nan=True), where
        if pd.api.types.is_integer_dtype(theirs.dtype):
            assert pd.api.types.is_integer_dtype(ours.dtype), f"{where} should stay integer"


def assert_same_content(ours: dict[str, pd.DataFrame], theirs: dict[str, pd.DataFrame]) -> None:
    """Every json_normalize value is in our frames, under the same column (after our renames)."""
    renames = {
        "orders": {},
        "costs": {
            "transaction_id": "costs.transaction_id",
            "order.order_id": "order_id",
            "order.transaction_id": "transaction_id",
        },
        "payment_methods": {},
    }
    for table, frame in theirs.items():
        frame = frame.rename(columns=renames[table])
        if table == "orders":  # the lists are tables of their own in ours
            frame = frame.drop(columns=["costs", "payment_methods", "related_transactions"])
        mine = ours[table]
        units = {c for c in mine.columns if c.endswith(".units")}
        assert set(mine.columns) - units == set(frame.columns), (table, set(mine.columns) ^ set(frame.columns))
        assert len(mine) == len(frame), table
        for name in frame.columns:
            _same_column(table, name, mine[name], frame[name])
        for name in units:  # money in currency units: minor units over 10**exponent of the currency
            cents = frame[name.removesuffix(".units")].to_numpy(dtype=np.float64)
            exponent = frame["currency"].map(lambda c: CURRENCY_EXPONENTS.get(c, 2)).to_numpy(dtype=np.float64)
            assert np.allclose(mine[name].to_numpy(), cents / 10.0**exponent), f"{table}.{name}"


# -- timing ---------------------------------------------------------------------------------------
def best_of(repeat: int, **actions: Callable[[], Any]) -> dict[str, tuple[float, float]]:
    """The best wall-clock and best CPU seconds of each action, the actions taking turns."""
    best = {name: (math.inf, math.inf) for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            action()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def memory_kb(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of this process, in KiB.

    Not ``resource.getrusage().ru_maxrss``: Linux carries a process's peak over into the program
    it execs, so a subprocess of this (large) benchmark process would report the parent's peak.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def run_route(route: str, path: str) -> None:
    """In a subprocess: one route over the file, reporting its time and this process's peak memory."""
    base = memory_kb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    if route == "json_normalize":
        with open(path, encoding="utf-8") as f:
            envelopes = [json.loads(line) for line in f]
        tables = normalize_all([e["data"] for e in envelopes])
    else:
        tables = load_orders(path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    del tables
    peak = memory_kb("VmHWM")
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_kb": peak, "base_kb": base}))


def measure_route(route: str, path: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--route", route, "--path", str(path)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def verdict(ratio: float, target: float, higher_is_better: bool = True) -> str:
    ok = ratio >= target if higher_is_better else ratio <= target
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="orders to generate (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--route", choices=["json_normalize", "load_orders"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.route:
        run_route(args.route, args.path)
        return 0

    began = time.perf_counter()
    print(f"{args.n:,} synthetic orders (seed {args.seed}), best of {args.repeat}")
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores / 2:  # other processes compete for the cores: wall-clock ratios are noisy
        print(f"note: load average {load:.1f} on {cores} cores; wall-clock times will vary")
    orders = make_orders(args.n, seed=args.seed)

    # 1. in memory: order_frames against json_normalize
    ours = order_frames(orders)
    theirs = normalize_all(orders)
    assert_same_content(vars(ours), theirs)
    del ours, theirs
    print("content: order_frames equals the json_normalize route (orders, costs, payment_methods)")
    # Both routes run on one thread here, so CPU time is their cost even when other processes share
    # the machine; wall-clock time is shown beside it.
    main = best_of(args.repeat, order_frames=lambda: order_frames(orders), json_normalize=lambda: normalize_all(orders))
    (ours_wall, ours_cpu), (theirs_wall, theirs_cpu) = main["order_frames"], main["json_normalize"]
    in_memory = theirs_cpu / ours_cpu
    results = [in_memory >= TARGET_SPEED_IN_MEMORY]
    print(
        f"order_frames vs json_normalize: {in_memory:.1f}x (target >= {TARGET_SPEED_IN_MEMORY:g}x) "
        f"[CPU {ours_cpu:.2f}s vs {theirs_cpu:.2f}s; wall-clock {theirs_wall / ours_wall:.1f}x, "
        f"{ours_wall:.2f}s vs {theirs_wall:.2f}s] {verdict(in_memory, TARGET_SPEED_IN_MEMORY)}"
    )
    standalone = [
        ("orders_frame", orders_frame, "orders", normalize_orders),
        ("costs_frame", costs_frame, "costs", normalize_costs),
        ("payment_methods_frame", payment_methods_frame, "payment_methods", normalize_payment_methods),
    ]
    for ours_name, ours_function, table, theirs_function in standalone:
        pair = best_of(1, ours=lambda f=ours_function: f(orders), theirs=lambda f=theirs_function: f(orders))
        print(
            f"  {ours_name} vs json_normalize {table}: {pair['theirs'][1] / pair['ours'][1]:.1f}x "
            f"[CPU {pair['ours'][1]:.2f}s vs {pair['theirs'][1]:.2f}s, one run] (information)"
        )

    # 2. from a JSON Lines file: load_orders against json.loads + json_normalize
    with tempfile.TemporaryDirectory() as folder:
        path = write_jsonl(Path(folder) / "orders.jsonl", orders, envelope=True)
        size_mb = path.stat().st_size / 1e6
        loaded, expected = load_orders(path), order_frames(orders)
        for name in ("orders", "costs", "payment_methods", "items", "related_transactions"):
            pd.testing.assert_frame_equal(getattr(loaded, name), getattr(expected, name), obj=name)
        del loaded, expected
        print(f"content: load_orders equals order_frames on a {size_mb:,.0f} MB JSON Lines file")
        # Two runs each (the json.loads route takes over 10 s a run) keep the benchmark near 90 s.
        runs = min(args.repeat, 2)
        routes: dict[str, list[dict[str, float]]] = {"load_orders": [], "json_normalize": []}
        for _ in range(runs):
            for route, measured in routes.items():
                measured.append(measure_route(route, path))
    best = {route: min(runs, key=lambda r: r["seconds"]) for route, runs in routes.items()}
    speed = best["json_normalize"]["seconds"] / best["load_orders"]["seconds"]
    peak = {route: max(r["peak_kb"] for r in runs) for route, runs in routes.items()}
    grown = {route: max(r["peak_kb"] - r["base_kb"] for r in runs) for route, runs in routes.items()}
    memory = peak["load_orders"] / peak["json_normalize"]
    memory_grown = grown["load_orders"] / grown["json_normalize"]
    results += [speed >= TARGET_SPEED_LOAD, memory <= TARGET_MEMORY_LOAD, memory_grown <= TARGET_MEMORY_LOAD]
    cpu = {route: min(r["cpu"] for r in runs) for route, runs in routes.items()}
    print(
        f"load_orders vs json.loads+json_normalize: {speed:.1f}x (target >= {TARGET_SPEED_LOAD:g}x) "
        f"[wall-clock {best['load_orders']['seconds']:.2f}s vs {best['json_normalize']['seconds']:.2f}s; "
        f"CPU {cpu['load_orders']:.2f}s on all threads vs {cpu['json_normalize']:.2f}s] "
        f"{verdict(speed, TARGET_SPEED_LOAD)}"
    )
    print(
        f"load_orders peak memory vs json.loads+json_normalize: {memory:.2f}x (target <= {TARGET_MEMORY_LOAD:g}x) "
        f"[{peak['load_orders'] / 1024:,.0f} MB vs {peak['json_normalize'] / 1024:,.0f} MB peak RSS; "
        f"{memory_grown:.2f}x counting only what each route added after imports: "
        f"{grown['load_orders'] / 1024:,.0f} MB vs {grown['json_normalize'] / 1024:,.0f} MB] "
        f"{verdict(max(memory, memory_grown), TARGET_MEMORY_LOAD, higher_is_better=False)}"
    )
    print(f"total {time.perf_counter() - began:.0f}s")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
