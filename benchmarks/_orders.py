"""Synthetic orders shaped like the ``data`` of a GET /orders/{order_id} response, for benchmarks.

The shape follows the tutorial's example GET response (alphabetical keys, ``costs[]``,
``payment_methods[]``, ``payment_details``, ``customer``, ``custom_info``), with variety: several
gateways, statuses and currencies, one to three cost lines, card details on card payments, and
refunds that add a ``withdraw`` cost and ``related_transactions``. Generation is seeded, so a run
can be repeated exactly.

    orders = make_orders(1000, seed=1)
    write_jsonl(path, orders, envelope=True)
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

GATEWAYS = {
    # gateway id: (payment_description, is a card)
    "IDEAL": ("iDEAL", False),
    "VISA": ("Visa", True),
    "MASTERCARD": ("Mastercard", True),
    "PAYPAL": ("PayPal", False),
    "BANKTRANS": ("Bank transfer", False),
    "MISTERCASH": ("Bancontact", False),
    "APPLEPAY": ("Apple Pay", True),
}
# (status, financial_status), weighted towards paid orders as a real shop's history would be
STATUSES = [
    ("completed", "completed"),
    ("completed", "completed"),
    ("completed", "completed"),
    ("initialized", "initialized"),
    ("declined", "declined"),
    ("expired", "expired"),
    ("void", "void"),
    ("uncleared", "uncleared"),
    ("refunded", "completed"),
    ("partial_refunded", "completed"),
]
CURRENCIES = ["EUR"] * 8 + ["GBP", "USD", "JPY"]
FIRST_NAMES = ["John", "Jan", "Simon", "Anna", "Sofie", "Lucas", "Emma", "Noah"]
LAST_NAMES = ["Doe", "Jansen", "Smit", "de Vries", "Bakker", "Visser", "Peeters"]
CITIES = [("Amsterdam", "NL"), ("Utrecht", "NL"), ("Antwerpen", "BE"), ("Berlin", "DE"), ("Paris", "FR")]
EPOCH = datetime(2021, 1, 1)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def make_order(index: int, rng: random.Random) -> dict[str, Any]:
    """One order, as the ``data`` of a GET response; ``index`` makes its IDs unique."""
    gateway = rng.choice(list(GATEWAYS))
    payment_description, is_card = GATEWAYS[gateway]
    status, financial_status = rng.choice(STATUSES)
    currency = rng.choice(CURRENCIES)
    amount = rng.randrange(100, 50_000) if currency != "JPY" else rng.randrange(100, 50_000) * 10
    transaction_id = 2_345_678 + index
    order_id = f"order-{index:07d}"
    first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, country = rng.choice(CITIES)
    description = f"Order {index} at the example shop"
    created = EPOCH + timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
    modified = created + timedelta(seconds=rng.randrange(5, 600))

    costs: list[dict[str, Any]] = [
        {
            "amount": round(rng.uniform(0.0, 0.6), 2),
            "description": f"Fixed fee For {payment_description} Transactions",
            "transaction_id": 1_000_000_000 + 3 * index,
            "type": "SYSTEM",
        }
    ]
    if rng.random() < 0.5:
        costs.append(
            {
                "amount": round(amount * 0.0029 / 100, 2),
                "description": f"0.29 % For {payment_description} Transactions",
                "transaction_id": 1_000_000_001 + 3 * index,
                "type": "internal",
            }
        )

    payment_details: dict[str, Any] = {
        "account_holder_name": f"{first_name} {last_name}",
        "account_id": rng.randrange(1, 10_000),
        "external_transaction_id": str(rng.randrange(10**15, 10**16)),
        "recurring_flow": None,
        "recurring_id": str(rng.randrange(10**17, 10**18)),
        "recurring_model": None,
        "type": gateway,
    }
    method: dict[str, Any] = {
        "account_holder_name": f"{first_name} {last_name}",
        "amount": amount,
        "currency": currency,
        "description": description,
        "external_transaction_id": payment_details["external_transaction_id"],
        "payment_description": payment_description,
        "status": financial_status,
        "type": gateway,
    }
    if is_card:
        card = {"card_expiry_date": f"{rng.randrange(25, 35)}{rng.randrange(1, 13):02d}", "last4": "1111"}
        payment_details |= card | {"authorization_code": str(rng.randrange(100_000, 999_999))}
        payment_details["card_authentication_result"] = {"eci": "05", "status": "Y", "version": "2.1.0"}
        method |= card
    else:
        bank = {"account_bic": "INGBNL2A", "account_iban": "NL87ABNA0000000001"}
        payment_details |= bank | {"issuer_id": "0031"}
        method |= bank

    amount_refunded = 0
    related_transactions: list[dict[str, Any]] | None = None
    completed: str | None = None
    if status in ("completed", "refunded", "partial_refunded"):
        completed = _timestamp(modified)
    if status in ("refunded", "partial_refunded"):
        amount_refunded = amount if status == "refunded" else amount // 2
        refunded_at = modified + timedelta(days=rng.randrange(1, 30))
        costs.append(
            {
                "amount": 0,
                "created": _timestamp(refunded_at),
                "description": f"Refund order {order_id}",
                "status": "completed",
                "transaction_id": 1_000_000_002 + 3 * index,
                "type": "withdraw",
            }
        )
        related_transactions = [
            {
                "amount": amount_refunded,
                "created": _timestamp(refunded_at),
                "currency": currency,
                "description": f"Refund order {order_id}",
                "modified": _timestamp(refunded_at),
                "order_id": f"refund-{index:07d}",
                "reference_transaction_id": transaction_id,
                "status": rng.choice(["reserved", "completed"]),
                "transaction_id": 9_000_000 + index,
                "type": "refund",
            }
        ]

    order: dict[str, Any] = {
        "amount": amount,
        "amount_refunded": amount_refunded,
        "completed": completed,
        "costs": costs,
        "created": _timestamp(created),
        "currency": currency,
        "custom_info": {"custom_1": None, "custom_2": None, "custom_3": None},
        "customer": {
            "address1": "Kraanspoor",
            "address2": None,
            "city": city,
            "country": country,
            "country_name": None,
            "email": f"{first_name.lower()}.{index}@example.com",
            "first_name": first_name,
            "house_number": str(rng.randrange(1, 200)),
            "last_name": last_name,
            "locale": "nl_NL",
            "phone1": "0208500500",
            "phone2": "",
            "state": None,
            "zip_code": "1033SC",
        },
        "description": description,
        "fastcheckout": "NO",
        "financial_status": financial_status,
        "items": None,
        "modified": _timestamp(modified),
        "order_id": order_id,
        "payment_details": payment_details,
        "payment_methods": [method],
        "reason": "SUCCESS" if status == "completed" else "",
        "reason_code": "",
        "related_transactions": related_transactions,
        "status": status,
        "transaction_id": transaction_id,
        "var1": None,
        "var2": None,
        "var3": None,
    }
    return order


def make_orders(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` distinct orders; the same ``seed`` gives the same orders."""
    rng = random.Random(seed)
    return [make_order(index, rng) for index in range(n)]


def write_jsonl(path: Path, orders: Iterable[dict[str, Any]], *, envelope: bool = False) -> Path:
    """Store orders one per line, optionally wrapped in the API's ``{"success", "data"}`` envelope."""
    with open(path, "w", encoding="utf-8") as f:
        for order in orders:
            f.write(json.dumps({"success": True, "data": order} if envelope else order))
            f.write("\n")
    return path
