"""The sandbox's controls over HTTP: the same calls for an in-process sandbox and one in another process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from conftest import notifying_order

from msp_explore.controls import SandboxControls
from msp_explore.errors import NotFoundError, ValidationError
from msp_explore.sandbox import Sandbox


@pytest.fixture
def controls(sandbox: Sandbox) -> Iterator[SandboxControls]:
    with SandboxControls(sandbox.url, sandbox.api_key) as controls:
        yield controls


def create(api: requests.Session, order_id: str, url: str = "http://127.0.0.1:9/hook") -> None:
    response = api.post(f"{api.base}/orders", json=notifying_order(url, order_id))  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text


def test_pay_advance_reset(controls: SandboxControls, api: requests.Session) -> None:
    create(api, "c-1")
    order = controls.pay("c-1", "completed")
    assert (order["order_id"], order["status"], order["financial_status"]) == ("c-1", "completed", "completed")
    assert controls.advance(60) > order["modified"]
    controls.reset()
    with pytest.raises(NotFoundError):
        controls.pay("c-1", "completed")


def test_bad_arguments_name_the_field(controls: SandboxControls, api: requests.Session) -> None:
    create(api, "c-2")
    with pytest.raises(ValidationError) as info:
        controls.pay("c-2", gateway="NOPE")
    assert info.value.field == "gateway"
    with pytest.raises(ValidationError) as info:
        controls.advance(-1)
    assert info.value.field == "seconds"
    controls.pay("c-2", "declined")
    with pytest.raises(ValidationError, match="can no longer be paid"):
        controls.pay("c-2", "completed")


def test_deliveries_carry_the_attempt_and_the_retry_still_due(controls: SandboxControls, api: requests.Session) -> None:
    create(api, "c-3")  # port 9: nobody listens, every attempt fails
    controls.pay("c-3", "completed")
    assert controls.wait_for_deliveries(5)
    [first] = controls.list_deliveries("c-3")
    assert (first["attempt"], first["notification"], first["acknowledged"]) == (1, 1, False)
    assert first["retry_due"] is not None and "ConnectionError" in first["error"]
    assert controls.list_deliveries("someone-else") == []
    for _ in range(3):
        controls.advance(0.2)  # the fixture's sandbox retries every 0.2 s of its clock
    attempts = controls.list_deliveries("c-3")
    assert [d["attempt"] for d in attempts] == [1, 2, 3, 4]
    assert attempts[-1]["retry_due"] is None  # out of retries


def test_requests_show_what_a_handler_asked(controls: SandboxControls, api: requests.Session) -> None:
    create(api, "c-4")
    api.get(f"{api.base}/orders/c-4")  # type: ignore[attr-defined]
    api.get(f"{api.base}/orders/nope")  # type: ignore[attr-defined]
    controls.pay("c-4", "completed")  # a control call: not listed
    seen = [(r["method"], r["path"], r["status_code"]) for r in controls.list_requests("c-4")]
    assert seen == [("GET", "/v1/json/orders/c-4", 200)]  # POST /orders names no order in its path
    assert ("POST", "/v1/json/orders") in [(r["method"], r["path"]) for r in controls.list_requests()]
    assert [r["status_code"] for r in controls.list_requests("nope")] == [404]


def test_the_key_never_shows(controls: SandboxControls, sandbox: Sandbox) -> None:
    assert sandbox.api_key not in repr(controls)


def test_a_sandbox_in_another_process_is_controlled_the_same_way(api: requests.Session) -> None:
    command = [sys.executable, "-m", "msp_explore", "sandbox", "--port", "0", "--api-key", "k-elsewhere-1234"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split(" at ", 1)[1].strip()
            with requests.Session() as other, SandboxControls(url, "k-elsewhere-1234") as controls:
                other.headers["api_key"] = "k-elsewhere-1234"
                order = notifying_order("http://127.0.0.1:9/hook", "far-1")
                assert other.post(f"{url}/orders", json=order, timeout=10).status_code == 200
                assert controls.pay("far-1", "declined")["status"] == "declined"
                assert controls.wait_for_deliveries(5)
                assert [d["order_id"] for d in controls.deliveries] == ["far-1"]
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_scenarios_list_every_method_the_page_offers(controls: SandboxControls) -> None:
    listed = {entry["gateway"]: entry for entry in controls.list_scenarios()}
    assert "CREDITCARD" not in listed and {"IDEAL", "VISA", "BANKTRANS", "KLARNA"} <= set(listed)
    assert {"completed", "declined"} <= {s["outcome"] for s in listed["IDEAL"]["scenarios"]}
    banktrans = listed["BANKTRANS"]["scenarios"]
    assert any(s["typed"] for s in banktrans)  # any other IBAN: the fallback scenario
    assert max(s["longest_delay"] for s in banktrans) > 0  # its outcome comes later


def test_deliveries_are_still_readable_after_the_sandbox_stopped() -> None:
    with Sandbox(seed=0, sync_notifications=True) as stopped, requests.Session() as api:
        api.headers["api_key"] = stopped.api_key
        assert api.post(f"{stopped.url}/orders", json=notifying_order("http://127.0.0.1:9/hook", "gone-1")).ok
        stopped.pay("gone-1", "completed")
    assert [d["order_id"] for d in stopped.deliveries] == ["gone-1"]  # no server to ask: its own record
