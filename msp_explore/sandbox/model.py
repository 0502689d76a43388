"""What the sandbox keeps: an order as the API shows it, and the refunds and captures made on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..currencies import to_units
from ..encoding import compact_json_bytes

FAILED = ("declined", "void", "expired", "cancelled")
PSPID_EMAIL = "enable-pspid-encoding@multisafepay.com"


def encode(obj: Any) -> bytes:
    """Compact, key-sorted JSON: the form of every order the sandbox serves and notifies."""
    return compact_json_bytes(obj, sort_keys=True)


def units(cents: int, currency: str) -> float:
    return to_units(cents, currency)


@dataclass
class Order:
    data: dict[str, Any]  # the order exactly as GET /orders/{id} returns it
    type: str
    gateway: str | None
    session_id: str
    payment_options: dict[str, Any]
    gateway_info: dict[str, Any]
    manual_capture: bool
    created_at: datetime
    payment_url: str = ""
    preset: str | None = None  # the card number or IBAN a direct order was created with
    attempted: bool = False
    refunds: list[dict[str, Any]] = field(default_factory=list)
    body: bytes = b""

    @property
    def order_id(self) -> str:
        return str(self.data["order_id"])


@dataclass
class Transaction:
    """A refund or capture; the payment transaction itself is read from its order."""

    transaction_id: int
    order_id: str
    type: str
    amount: int
    currency: str
    created: datetime
    status: str
    financial_status: str
    description: str
    payment_method: str | None
    completed: datetime | None = None
