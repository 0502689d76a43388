"""Run every payment method's test scenarios on the sandbox and collect where each order ends up."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import MspError

if TYPE_CHECKING:
    import pandas as pd

    from .client import Client

# MB WAY and Multibanco decide by amount (cents); every other method by what the payer picks or types.
_AMOUNT_FOR = {"declined": 500, "completed": 1500, "expired": 2500}


def run_scenarios(
    client: Client,
    gateways: Iterable[str] | None = None,
    *,
    amount: int = 1500,
    currency: str = "EUR",
    prefix: str = "scenario",
    progress: bool = True,
    notification_url: str | None = None,
) -> pd.DataFrame:
    """Create one order per payment method and test scenario, pay it that way, and report the outcome.

    Delayed outcomes (bank transfers, direct debits, uncleared cards...) are let happen by moving the
    sandbox clock past the longest delay, so the table shows where each scenario finally ends.

    On MultiSafepay's test API nobody but you can pay: one order per method is created, and the table
    lists their ``payment_url`` to open and pay on the test page; run it again to see where they ended.

    With ``notification_url`` (a ``WebhookReceiver``'s ``url``), every order notifies it as it changes.

    Returns
    -------
    DataFrame
        One row per (method, scenario): ``method``, ``scenario`` (what the payer picks or types),
        ``label``, ``after_pay`` (status right after paying), ``status``, ``financial_status`` and
        ``order_id``, sorted by method.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    sandbox = client.sandbox
    notify = {"payment_options": {"notification_url": notification_url}} if notification_url else {}
    if sandbox is None:
        return _orders_to_pay_by_hand(client, gateways, amount=amount, currency=currency, prefix=prefix, **notify)
    if isinstance(gateways, str):
        gateways = [gateways]
    catalog = {entry["gateway"]: entry for entry in sandbox.list_scenarios()}
    wanted = [g.upper() for g in gateways] if gateways is not None else list(catalog)
    unknown = sorted(set(wanted) - set(catalog))
    if unknown:
        raise MspError(f"gateways: {', '.join(unknown)} not offered by the sandbox")
    runs = [(catalog[g], s) for g in wanted for s in catalog[g]["scenarios"]]
    rows: list[dict[str, Any]] = []
    longest = 0
    for number, (gateway, scenario) in enumerate(tqdm(runs, desc="scenarios", disable=not progress or None), 1):
        order_id = f"{prefix}-{number:03d}"
        price = _AMOUNT_FOR.get(scenario["key"], amount) if gateway["form"] == "amount" else amount
        client.create_order(
            order_id=order_id, currency=currency, amount=price, gateway=gateway["gateway"],
            description=f"{gateway['description']}: {scenario['label']}", **notify,
        )  # fmt: skip
        # A typed scenario stands for any other input: an IBAN that is none of the listed test ones.
        key = "NL87ABNA0000000009" if scenario["typed"] else scenario["key"]
        after = sandbox.pay(order_id, key, gateway=gateway["gateway"])
        longest = max(longest, scenario["longest_delay"])
        rows.append({"method": gateway["gateway"], "scenario": key, "label": scenario["label"],
                     "after_pay": after["status"], "order_id": order_id})  # fmt: skip
    sandbox.advance(longest + 1)
    final = client.get_orders([row["order_id"] for row in rows], progress=False)
    for row, order in zip(rows, final, strict=True):
        row["status"], row["financial_status"] = order["status"], order["financial_status"]
    columns = ["method", "scenario", "label", "after_pay", "status", "financial_status", "order_id"]
    return pd.DataFrame(rows, columns=columns)


def _orders_to_pay_by_hand(
    client: Client, gateways: Iterable[str] | None, *, amount: int, currency: str, prefix: str, **notify: Any
) -> pd.DataFrame:
    import pandas as pd

    from .tutorial import fresh_order_id

    wanted = [gateways] if isinstance(gateways, str) else list(gateways or [g["id"] for g in client.list_gateways()])
    rows = []
    for gateway in wanted:
        order_id = fresh_order_id(client, f"{prefix}-{gateway.lower()}")
        created = client.create_order(
            order_id=order_id, currency=currency, amount=amount, gateway=gateway, description=f"Test {gateway}",
            **notify,
        )
        rows.append({"method": gateway, "scenario": "", "label": "pay on the test page", "after_pay": "",
                     "order_id": order_id, "payment_url": created.get("payment_url")})  # fmt: skip
    final = client.get_orders([row["order_id"] for row in rows], progress=False)
    for row, order in zip(rows, final, strict=True):
        row["status"], row["financial_status"] = order["status"], order["financial_status"]
    columns = ["method", "scenario", "label", "after_pay", "status", "financial_status", "order_id", "payment_url"]
    return pd.DataFrame(rows, columns=columns)
