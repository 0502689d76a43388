"""The tutorial's order, fresh order IDs, the scripted tour and the scenario runner (``msp-explore tour`` and
``msp-explore scenarios`` run as real subprocesses).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from msp_explore.client import Client
from msp_explore.errors import MspError
from msp_explore.sandbox import Sandbox
from msp_explore.sandbox.catalog import GATEWAYS, GIFTCARD_BALANCE
from msp_explore.scenarios import run_scenarios
from msp_explore.tutorial import TUTORIAL_ORDER, fresh_order_id, tutorial_order

COLUMNS = ["method", "scenario", "label", "after_pay", "status", "financial_status", "order_id"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "msp_explore", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def plain_client(sandbox: Sandbox) -> Iterator[Client]:
    """A client pointed at the sandbox's URL only, as for MultiSafepay's test API: no ``.sandbox``."""
    with Client(sandbox.api_key, base_url=sandbox.url, controls=False) as client:
        yield client


# -- tutorial_order ---------------------------------------------------------------------------------------
def test_tutorial_order_is_the_tutorials_request() -> None:
    order = tutorial_order()
    assert (order["type"], order["order_id"], order["gateway"]) == ("redirect", "my-order-id-1", "")
    assert (order["amount"], order["currency"], order["description"]) == (1000, "EUR", "Test order description")
    customer = order["customer"]
    assert isinstance(customer, dict)
    assert (customer["first_name"], customer["last_name"], customer["email"]) == ("John", "Doe", "jdoe@example.com")


def test_tutorial_order_is_a_fresh_deep_copy_each_time() -> None:
    first = tutorial_order()
    first["customer"]["email"] = "changed@example.com"  # type: ignore[index]
    first["payment_options"]["notification_url"] = "http://127.0.0.1:1/hook"  # type: ignore[index]
    second = tutorial_order()
    assert second["customer"]["email"] == "jdoe@example.com"  # type: ignore[index]
    hook = "https://www.example.com/client/notification?type=notification"
    assert second["payment_options"]["notification_url"] == hook  # type: ignore[index]
    assert TUTORIAL_ORDER["customer"]["email"] == "jdoe@example.com"  # type: ignore[index]
    assert second == TUTORIAL_ORDER and second is not TUTORIAL_ORDER


def test_tutorial_order_applies_overrides() -> None:
    order = tutorial_order(order_id="shop-7", amount=2500, gateway="IDEAL", var1="extra")
    assert (order["order_id"], order["amount"], order["gateway"], order["var1"]) == ("shop-7", 2500, "IDEAL", "extra")
    assert order["currency"] == "EUR" and order["customer"] == TUTORIAL_ORDER["customer"]


def test_the_tutorial_order_is_accepted(client: Client, api: requests.Session) -> None:
    client.create_order(tutorial_order())
    got = api.get(f"{api.base}/orders/my-order-id-1").json()["data"]  # type: ignore[attr-defined]
    assert (got["amount"], got["status"], got["customer"]["last_name"]) == (1000, "initialized", "Doe")


# -- fresh_order_id ---------------------------------------------------------------------------------------
def test_fresh_order_id_is_unchanged_on_the_sandbox(client: Client) -> None:
    assert fresh_order_id(client, "my-order-id-1") == "my-order-id-1"


def test_fresh_order_id_is_unique_without_a_sandbox(plain_client: Client) -> None:
    first, second = (fresh_order_id(plain_client, "my-order-id-1") for _ in range(2))
    assert re.fullmatch(r"my-order-id-1-\d{14}-[0-9a-f]{4}", first), first
    assert first != second


def test_fresh_order_ids_can_be_created_again_and_again(plain_client: Client) -> None:
    # what re-running a notebook against the test API does: the same base id, a new order each time
    for base in ("my-order-id-1", "my-order-id-1", "x" * 50):
        order_id = fresh_order_id(plain_client, base)
        assert len(order_id) <= 50 and order_id.startswith(base[:30])
        assert plain_client.create_order(tutorial_order(order_id=order_id))["order_id"] == order_id


# -- msp-explore tour -------------------------------------------------------------------------------------
def test_the_tour_runs_the_tutorial_steps() -> None:
    result = run("tour")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    steps = [line for line in out.splitlines() if line.startswith("== ")]
    assert [step[3:5] for step in steps] == ["1.", "2.", "3.", "4.", "5."]
    assert '"order_id": "my-order-id-1"' in out and '"payment_url": "http://127.0.0.1:' in out
    assert "payment page answered 302" in out
    assert "notification: order my-order-id-1 status=completed financial_status=completed verified=True" in out
    assert "GET the order (GET /orders/my-order-id-1)" in out and '"financial_status": "completed"' in out
    tables = out.split("== 5. As tables", 1)[1]
    assert re.search(r"my-order-id-1\s+completed\s+completed\s+1000\s+IDEAL", tables)
    assert "0.29 For iDEAL Transactions" in tables  # the costs table


# -- run_scenarios ----------------------------------------------------------------------------------------
def _expected_rows(amount: int = 1500) -> list[tuple[str, str, str]]:
    """(method, scenario, final status) from the catalog, for orders of ``amount`` cents."""
    rows = []
    for gateway in GATEWAYS.values():
        if gateway.id == "CREDITCARD":
            continue
        for scenario in gateway.scenarios:
            short = gateway.form == "giftcard" and GIFTCARD_BALANCE[scenario.key] < amount
            rows.append((gateway.id, scenario.key, "declined" if short else scenario.outcome))
        if gateway.fallback is not None:
            rows.append((gateway.id, "NL87ABNA0000000009", gateway.fallback.outcome))
    return rows


def test_run_scenarios_covers_every_catalog_scenario(client: Client, api: requests.Session) -> None:
    results = run_scenarios(client, progress=False)

    assert list(results.columns) == COLUMNS
    assert list(zip(results["method"], results["scenario"], results["status"], strict=True)) == _expected_rows()
    assert "CREDITCARD" not in set(results["method"])
    assert results["order_id"].is_unique and results["order_id"].str.startswith("scenario-").all()

    by_key = results.set_index(["method", "scenario"])
    rows = {
        ("IDEAL", "success"): ("completed", "completed", "completed"),
        ("BANKTRANS", "NL87ABNA0000000001"): ("initialized", "completed", "completed"),  # after the clock moved
        ("PAYPAL", "approved"): ("completed", "completed", "initialized"),
        ("MBWAY", "declined"): ("declined", "declined", "declined"),  # decided by the amount
        ("BOEKENBON", "111112"): ("declined", "declined", "declined"),  # 5.00 on the card, 15.00 to pay
    }
    for key, expected in rows.items():
        assert tuple(by_key.loc[key, ["after_pay", "status", "financial_status"]]) == expected, key

    order_id = by_key.loc[("BANKTRANS", "NL87ABNA0000000001"), "order_id"]
    got = api.get(f"{api.base}/orders/{order_id}").json()["data"]  # type: ignore[attr-defined]
    assert (got["status"], got["payment_details"]["type"]) == ("completed", "BANKTRANS")


def test_run_scenarios_for_some_gateways_only(client: Client) -> None:
    results = run_scenarios(client, ["ideal"], prefix="only", amount=1200, progress=False)
    assert list(results["method"]) == ["IDEAL"] * len(GATEWAYS["IDEAL"].scenarios)
    assert list(results["scenario"]) == [scenario.key for scenario in GATEWAYS["IDEAL"].scenarios]
    assert list(results["order_id"]) == [f"only-{n:03d}" for n in range(1, len(results) + 1)]
    assert client.get_order("only-001")["amount"] == 1200


def test_run_scenarios_refuses_an_unknown_gateway(client: Client, api: requests.Session) -> None:
    with pytest.raises(MspError, match="NOPE not offered by the sandbox"):
        run_scenarios(client, ["IDEAL", "NOPE"], progress=False)
    assert api.get(f"{api.base}/orders/scenario-001").status_code == 404  # type: ignore[attr-defined]  # nothing created


def test_run_scenarios_without_a_sandbox_leaves_paying_to_a_person(plain_client: Client) -> None:
    results = run_scenarios(plain_client, ["IDEAL", "VISA"], progress=False)
    assert list(results["method"]) == ["IDEAL", "VISA"]
    assert set(results["status"]) == {"initialized"}
    assert all(url.startswith("http://127.0.0.1:") and "/connect/" in url for url in results["payment_url"])
    assert (results["label"] == "pay on the test page").all()


# -- msp-explore scenarios --------------------------------------------------------------------------------
def test_the_scenarios_command_prints_the_table() -> None:
    result = run("scenarios")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    methods = len(GATEWAYS) - 1  # all but CREDITCARD
    assert lines[0].startswith(
        f"Every test scenario of {methods} payment methods, on <Client sandbox http://127.0.0.1:"
    )
    assert re.search(r"^IDEAL\s+success\s+Success\s+completed\s+completed$", result.stdout, re.M)
    assert re.search(r"^\s+NL87ABNA0000000009\s+any other IBAN: expired after 5 days\s+expired\s+expired$",
                     result.stdout, re.M)  # fmt: skip
    assert len(lines) == 3 + len(_expected_rows())  # the title and the header's two lines, then one per row


def test_the_scenarios_command_runs_on_a_sandbox_named_by_msp_base_url(sandbox: Sandbox) -> None:
    # As with `msp-explore sandbox` in another terminal: the key and URL point at it, its controls pay.
    env = {**os.environ, "MSP_API_KEY": sandbox.api_key, "MSP_BASE_URL": sandbox.url}
    result = run("scenarios", env=env)
    assert result.returncode == 0, result.stderr
    assert "KLARNA" in result.stdout and len(sandbox.controls.list_requests()) > 100


def test_the_scenarios_command_explains_why_it_cannot_run_on_the_test_api(sandbox: Sandbox) -> None:
    # The test API (MSP_API_KEY alone): the command must fail before any request, so never reaches it
    env = {**os.environ, "MSP_API_KEY": sandbox.api_key}
    env.pop("MSP_BASE_URL", None)
    result = run("scenarios", env=env)
    assert result.returncode == 1
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("msp-explore scenarios: this command pays through the embedded sandbox")
