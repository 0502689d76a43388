"""Fetch many things concurrently, in input order, stopping at the first failure, with a progress bar."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
PROGRESS_INTERVAL = 0.1  # seconds between updates of the progress bar


def fetch_all(
    fetch: Callable[[str], T],
    keys: Sequence[str],
    *,
    max_workers: int,
    progress: bool = True,
    desc: str = "fetch",
    name: str = "keys",
) -> list[T]:
    """``[fetch(key) for key in keys]``, ``max_workers`` at a time; results come in input order.

    At the first failure no new fetch starts, the ones in flight are awaited, and the error of the
    earliest failing key (in input order) is raised with a note naming it: a wrong key or an API that
    is down fails every call alike, so there is no point in making a thousand failing calls.
    """
    from tqdm.auto import tqdm  # lazily: only a batch needs it

    workers = min(max_workers, len(keys))
    results: list[T | None] = [None] * len(keys)
    # Each worker takes the next key until none is left or one has failed: no future per key, and the
    # first failure stops the others from starting new requests.
    positions, taking = itertools.count(), threading.Lock()
    stop = threading.Event()
    fetched = [0] * workers  # per worker, so that counting needs no lock
    failed_at: dict[int, int] = {}  # worker -> the key it failed on; its future holds the error

    def work(worker: int) -> None:
        while not stop.is_set():
            with taking:
                index = next(positions)
            if index >= len(keys):
                return
            try:
                results[index] = fetch(keys[index])
            except BaseException:
                failed_at[worker] = index
                stop.set()
                raise
            fetched[worker] += 1

    # Passing disable=False would override TQDM_DISABLE, so pass it only to switch the bar off.
    bar = tqdm(total=len(keys), desc=desc, unit="order", **({} if progress else {"disable": True}))
    with bar, ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"msp-{desc}") as pool:
        futures = [pool.submit(work, worker) for worker in range(workers)]
        shown = 0
        try:
            while True:  # the bar moves in steps, a few times a second, not once per key
                finished, _ = wait(futures, timeout=PROGRESS_INTERVAL)
                done = sum(fetched)
                bar.update(done - shown)
                shown = done
                if len(finished) == len(futures):
                    break
        except BaseException:  # Ctrl-C in a notebook: finish the requests in flight, start no more
            stop.set()
            raise
    failures = [(failed_at[w], f.exception()) for w, f in enumerate(futures) if f.exception() is not None]
    if failures:
        index, exc = min(failures, key=lambda failure: failure[0])
        assert exc is not None
        if hasattr(exc, "add_note"):  # Python 3.11+
            done = sum(result is not None for result in results)
            exc.add_note(f"{desc} stopped at {name}[{index}] = {keys[index]!r} ({done} of {len(keys)} fetched)")
        raise exc
    return results  # type: ignore[return-value]
