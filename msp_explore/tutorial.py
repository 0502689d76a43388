"""The tutorial's example order, and ``msp-explore tour``: its steps, scripted, against the embedded sandbox.

Create the tutorial's redirect order, pay it on the test payment page (as a browser would), receive
the signed webhook, and print the order as GET returns it and as tidy tables.
"""

from __future__ import annotations

import copy
import json
import secrets
from datetime import datetime, timezone
from typing import Any

import requests

# The tutorial's example create-order request, as it sends it (notification URLs and all: the sandbox
# records deliveries to example.com as not sent, and never contacts it).
TUTORIAL_ORDER = {
    "type": "redirect",
    "order_id": "my-order-id-1",
    "gateway": "",
    "currency": "EUR",
    "amount": 1000,
    "description": "Test order description",
    "payment_options": {
        "notification_url": "https://www.example.com/client/notification?type=notification",
        "notification_method": "POST",
        "redirect_url": "https://www.example.com/client/notification?type=redirect",
        "cancel_url": "https://www.example.com/client/notification?type=cancel",
        "close_window": True,
    },
    "customer": {
        "locale": "nl_NL",
        "ip_address": "123.123.123.123",
        "first_name": "John",
        "last_name": "Doe",
        "company_name": "Test Company Name",
        "address1": "Kraanspoor",
        "house_number": "39C",
        "zip_code": "1033SC",
        "city": "Amsterdam",
        "country": "NL",
        "phone": "0208500500",
        "email": "jdoe@example.com",
        "referrer": "https://example.com",
        "user_agent": "Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/38.0",
    },
}


def tutorial_order(**overrides: object) -> dict[str, object]:
    """A fresh copy of the tutorial's create-order request, with fields replaced by ``overrides``."""
    order = copy.deepcopy(TUTORIAL_ORDER)
    order.update(overrides)
    return order


def fresh_order_id(client: Any, order_id: str) -> str:
    """``order_id`` itself on the sandbox (repeatable runs); made unique on the real test API.

    MultiSafepay refuses an order_id a second time (error 1006), so re-running a notebook against the
    real test API needs new IDs; the sandbox starts empty every time and keeps outputs comparable.
    """
    if client.sandbox is not None:
        return order_id
    suffix = f"-{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
    return order_id[: 50 - len(suffix)] + suffix  # an order_id may have at most 50 characters


def _step(title: str) -> None:
    print(f"\n== {title}")


def run_tour() -> int:
    from .client import Client
    from .frames import order_frames
    from .receiver import WebhookReceiver
    from .sandbox import Sandbox

    with Sandbox(seed=0, sync_notifications=True) as sandbox, Client(sandbox.api_key, base_url=sandbox.url) as client:
        with WebhookReceiver(sandbox.api_key, client=client) as receiver:
            print(f"sandbox: {sandbox.url}\nwebhook receiver: {receiver.url}")

            _step("1. Create an order (POST /orders)")
            order = tutorial_order()
            order["payment_options"]["notification_url"] = receiver.url  # type: ignore[index]
            created = client.create_order(order)
            print(json.dumps(dict(created), indent=2))

            _step("2. Open the payment_url and pay with iDEAL, scenario Success")
            page = requests.post(
                created["payment_url"],
                data={"gateway": "IDEAL", "scenario": "success"},
                allow_redirects=False,
                timeout=10,
            )
            print(f"payment page answered {page.status_code}, redirecting to {page.headers.get('Location')}")

            _step("3. The webhook arrives, signed")
            note = receiver.wait_for("my-order-id-1", status="completed")
            print(
                f"notification: order {note['order_id']} status={note['status']} "
                f"financial_status={note['financial_status']} verified={note['verified']}"
            )

            _step("4. GET the order (GET /orders/my-order-id-1)")
            got = client.get_order("my-order-id-1")
            print(json.dumps(dict(got), indent=2)[:1500])

            _step("5. As tables")
            frames = order_frames([got])
            with _wide():
                print(frames.orders[["order_id", "status", "financial_status", "amount", "payment_details.type"]])
                print(frames.costs)
                print(frames.payment_methods)
    return 0


def _wide() -> object:
    import pandas as pd

    return pd.option_context("display.width", 160, "display.max_columns", 12)
