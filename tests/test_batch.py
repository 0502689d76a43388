"""How many GETs get_orders keeps in flight, by where the server runs (the batch path itself is tested
through ``Client.get_orders`` in test_client.py)."""

from __future__ import annotations

from msp_explore._batch import in_flight
from msp_explore.config import TEST_API
from msp_explore.sandbox import Sandbox


def test_in_flight_follows_where_the_server_runs(sandbox: Sandbox) -> None:
    assert in_flight(sandbox.url) == 1  # served from this process: its threads share our GIL
    assert in_flight(TEST_API) == 8  # across a network: requests mostly wait
    with Sandbox() as other:
        url = other.url
        assert in_flight(url) == 1
    assert in_flight(url) == 4  # stopped here, so as good as another process on this machine
    assert in_flight(url.replace("127.0.0.1", "localhost")) == 4
    assert in_flight("http://127.0.0.1:notaport/v1/json") == 4
