"""The load generator the server benchmarks share: requests sent from a separate process.

The load runs in a child process so that the client's own Python does not compete with the servers' for
the GIL. Each of ``threads`` client threads keeps one ``http.client`` connection, open for as long as the
server allows.

    with load_generator() as drive:
        result = drive(port, [("GET", "/v1/json/orders/a", None, {"api_key": key})] * 1000, threads=4)
        result["rps"], result["client_cpu"], result["reused"]
"""

from __future__ import annotations

import http.client
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

Request = tuple[str, str, bytes | None, dict[str, str]]  # method, path with query, body, headers
Drive = Callable[..., dict[str, float]]


def drive(port: int, requests: list[Request], threads: int, expect: bytes | None = None) -> dict[str, float]:
    """Send every request from ``threads`` client threads, one connection each; time them all.

    A request fails unless it is answered 200 (and with the body ``expect``, when given). ``reused`` is
    the share of answers after which the server kept the connection open for the next request.
    """
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(threads)]
    for connection in connections:
        connection.connect()  # outside the timed part, as is the server's thread for it
    start = threading.Barrier(threads + 1)
    failures = [0] * threads
    closed = [0] * threads

    def run(i: int) -> None:
        connection = connections[i]
        start.wait()
        for method, path, body, headers in requests[i::threads]:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read()
            failures[i] += response.status != 200 or (expect is not None and text != expect)
            closed[i] += response.will_close

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    cpu = time.process_time()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    for connection in connections:
        connection.close()
    return {
        "seconds": seconds,
        "rps": len(requests) / seconds,
        "client_cpu": cpu / seconds,
        "failures": sum(failures),
        "reused": 1 - sum(closed) / len(requests),
    }


def _serve(pipe: Connection) -> None:
    """The child process: run each job it is sent until it is sent None."""
    while (job := pipe.recv()) is not None:
        pipe.send(drive(**job))


@contextmanager
def load_generator() -> Iterator[Drive]:
    """Start the child process; give a ``drive`` with the same arguments that runs there."""
    context = multiprocessing.get_context("spawn")  # never fork a process that runs server threads
    pipe, child_end = context.Pipe()
    child = context.Process(target=_serve, args=(child_end,), daemon=True)
    child.start()

    def drive_there(
        port: int, requests: list[Request], threads: int, expect: bytes | None = None
    ) -> dict[str, float]:
        pipe.send({"port": port, "requests": requests, "threads": threads, "expect": expect})
        result: dict[str, float] = pipe.recv()
        return result

    try:
        yield drive_there
    finally:
        pipe.send(None)
        child.join(timeout=10)
