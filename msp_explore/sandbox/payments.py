"""What paying fills in on an order: payment details, payment methods, costs, the customer as the API shows it.

Pure functions of the order, the gateway and the scenario; anything random comes from the store's seeded
``rng``, so a seeded sandbox fills in the same details run after run.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

from .catalog import Gateway, Scenario
from .model import Order, units

HOLDERS = ("Jan Jansen", "Simon Smit", "Eva de Vries", "Noah Bakker", "Emma Visser", "Lucas Mulder")
BICS = ("INGBNL2A", "ABNANL2A", "RABONL2U", "SNSBNL2A")


def payment_details(
    order: Order, gateway: Gateway, scenario: Scenario | None, inputs: dict[str, Any], rng: random.Random
) -> dict[str, Any]:
    """``payment_details`` of a paid order: what the payer typed, or test details drawn from ``rng``."""

    def digits(n: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(n))

    details = blank_details(gateway.id)
    customer = order.data["customer"]
    named = " ".join(x for x in (customer.get("first_name"), customer.get("last_name")) if x)
    holder = str(inputs.get("holder") or named or rng.choice(HOLDERS))
    details["external_transaction_id"] = digits(16)
    if gateway.form == "card" and scenario is not None:
        typed = str(inputs.get("card_number") or "").replace(" ", "")
        number = typed if typed.isdigit() else scenario.key if scenario.key.isdigit() else ""
        abandoned = scenario.outcome == "expired"  # 3-D Secure never finished: nothing was authorised
        details.update(
            account_holder_name=holder,
            authorization_code=None if abandoned else digits(6),
            last4=number[-4:] or None,
            card_expiry_date=yymm(inputs.get("expiry")),
            response_code=None if abandoned else "05" if scenario.outcome == "declined" else "00",
            card_authentication_result={
                "eci": "05",
                "status": "N" if "3DS" in scenario.reason or abandoned else "Y",
                "version": "2.2.0",
            },
        )
    elif gateway.form == "iban" and scenario is not None:
        iban = str(inputs.get("iban") or scenario.key).replace(" ", "").upper()
        details.update(account_holder_name=holder, account_iban=iban, account_bic="ABNANL2A")
    elif gateway.form == "giftcard" and scenario is not None:
        details.update(account_id=scenario.key)
    else:
        details.update(
            account_holder_name=holder,
            account_iban="NL87ABNA0" + digits(9),
            account_bic=rng.choice(BICS),
            account_id=1,
        )
        if gateway.id == "IDEAL":
            details["issuer_id"] = "0031"
    return details


def costs(order: Order, gateway: Gateway, new_id: Callable[[], int]) -> list[dict[str, Any]]:
    """The order's ``costs``: the gateway's fixed fee, and its percentage if it has one."""
    fixed, percent = gateway.fee
    name = gateway.description
    costs = [
        {
            "amount": fixed,
            "description": f"{fixed:.2f} For {name} Transactions",
            "transaction_id": new_id(),
            "type": "SYSTEM",
        }
    ]
    if percent:
        share = round(units(order.data["amount"], order.data["currency"]) * percent / 100, 2)
        costs.append(
            {
                "amount": share,
                "description": f"{percent:.2f} % For {name} Transactions",
                "transaction_id": new_id(),
                "type": "SYSTEM",
            }
        )
    return costs


def customer_view(raw: dict[str, Any]) -> dict[str, Any]:
    def text(key: str) -> str | None:
        value = raw.get(key)
        return None if value is None else str(value)

    return {
        "address1": text("address1"),
        "address2": text("address2"),
        "city": text("city"),
        "country": text("country"),
        "country_name": None,
        "email": text("email") or "",
        "first_name": text("first_name"),
        "house_number": text("house_number"),
        "last_name": text("last_name"),
        "locale": text("locale") or "en_US",
        "phone1": text("phone"),
        "phone2": "",
        "state": text("state"),
        "zip_code": text("zip_code"),
    }


def yymm(expiry: Any) -> str:
    """Card expiry as the API reports it (YYMM), from what a payer types (MM/YY); 3012 when not given."""
    month, _, year = str(expiry or "").partition("/")
    if month.strip().isdecimal() and year.strip().isdecimal():  # isdigit() passes "²", which int() refuses
        return f"{int(year) % 100:02d}{int(month):02d}"
    return "3012"


def blank_details(gateway: str | None) -> dict[str, Any]:
    # account_iban and type appear only once known: MultiSafepay's card examples have no account_iban,
    # and its spec allows neither as null (tests/test_contract.py)
    details: dict[str, Any] = {
        "account_holder_name": None,
        "account_id": None,
        "external_transaction_id": None,
        "recurring_flow": None,
        "recurring_id": None,
        "recurring_model": None,
    }
    if gateway is not None:
        details["type"] = gateway
    return details


def payment_method(data: dict[str, Any], details: dict[str, Any], gateway: Gateway) -> dict[str, Any]:
    method = {
        "amount": data["amount"],
        "currency": data["currency"],
        "description": data["description"],
        "external_transaction_id": details["external_transaction_id"],
        "payment_description": gateway.description,
        "status": data["financial_status"],
        "type": gateway.id,
    }
    for key in (
        "account_holder_name",
        "account_iban",
        "account_bic",
        "account_id",
        "last4",
        "card_expiry_date",
    ):
        if details.get(key) is not None:
            method[key] = details[key]
    return method
