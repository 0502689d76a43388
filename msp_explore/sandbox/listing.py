"""Read-only views: transactions (filtered, cursor-paged), gateways and payment methods."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from . import validate
from .catalog import CURRENCIES, GATEWAYS, Gateway
from .store import Order, Store, Transaction
from .validate import Reject

SITE_ID = 12345
TRANSACTION_FILTERS = (
    "site_id",
    "currency",
    "financial_status",
    "status",
    "payment_method",
    "type",
    "debit_credit",
    "created_from",
    "created_until",
    "completed_from",
    "completed_until",
)


def _parse_stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def transaction_view(item: Order | Transaction) -> dict[str, Any]:
    """One transaction as GET /transactions lists it (costs in cents here, unlike in orders)."""
    if isinstance(item, Order):
        data = item.data
        costs = [
            {"amount": round(c["amount"] * 100), "description": c["description"], "dst": 0}
            for c in data["costs"]
            if c.get("type") == "SYSTEM"
        ]
        customer = data["customer"]
        view = {
            "amount": data["amount"],
            "costs": costs,
            "created": data["created"],
            "currency": data["currency"],
            "customer": _customer_view(
                customer["email"], customer["first_name"], customer["last_name"], data["payment_details"]
            ),
            "debit_credit": "C",
            "description": data["description"],
            "financial_status": data["financial_status"],
            "net": data["amount"] - sum(c["amount"] for c in costs),
            "order_id": data["order_id"],
            "site_id": SITE_ID,
            "status": data["status"],
            "transaction_id": data["transaction_id"],
            "type": "payment",
            "var1": data["var1"] or "",
            "var2": data["var2"] or "",
            "var3": data["var3"] or "",
        }
        if data.get("completed"):
            view["completed"] = data["completed"]
        if item.gateway:
            view["payment_method"] = item.gateway
        return view
    view = {
        "amount": item.amount,
        "costs": [],
        "created": item.created.strftime("%Y-%m-%dT%H:%M:%S"),
        "currency": item.currency,
        "customer": {"iban": ""},
        "debit_credit": "D" if item.type == "refund" else "C",
        "description": item.description,
        "financial_status": item.financial_status,
        "net": -item.amount if item.type == "refund" else item.amount,
        "order_id": item.order_id,
        "site_id": SITE_ID,
        "status": item.status,
        "transaction_id": item.transaction_id,
        "type": item.type,
        "var1": "",
        "var2": "",
        "var3": "",
    }
    if item.completed:
        view["completed"] = item.completed.strftime("%Y-%m-%dT%H:%M:%S")
    if item.payment_method:
        view["payment_method"] = item.payment_method
    return view


def _customer_view(email: str | None, first: str | None, last: str | None, details: dict[str, Any]) -> dict[str, Any]:
    # Unknown names and email are left out rather than sent as "": the spec's formats reject "" (a valid
    # email, names of 2+ characters) and MultiSafepay's examples never show an empty one. iban is always there.
    view = {"iban": details.get("account_iban") or ""}
    view.update((k, v) for k, v in (("email", email), ("first_name", first), ("last_name", last)) if v)
    return view


def _encode_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"txn:{index}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, name: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, index = text.partition(":")
        if prefix == "txn" and index.isdigit():
            return int(index)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise Reject(400, 1000, f"{name}: not a cursor this API returned")


def _matcher(args: Mapping[str, str], methods: list[str]) -> Callable[[dict[str, Any]], bool]:
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for key in ("currency", "financial_status", "status", "type", "debit_credit", "site_id"):
        wanted = args.get(key)
        if wanted:
            checks.append(lambda v, k=key, w=wanted: str(v.get(k)) == w)
    if methods:
        wanted_methods = {m.upper() for m in methods}
        checks.append(lambda v: str(v.get("payment_method")).upper() in wanted_methods)
    for key, field, after in (
        ("created_from", "created", True),
        ("created_until", "created", False),
        ("completed_from", "completed", True),
        ("completed_until", "completed", False),
    ):
        if args.get(key):
            bound = validate.timestamp(args[key], key)

            def check(v: dict[str, Any], f: str = field, b: datetime = bound, a: bool = after) -> bool:
                stamp = _parse_stamp(v.get(f))
                return stamp is not None and (stamp >= b if a else stamp <= b)

            checks.append(check)
    return lambda view: all(check(view) for check in checks)


def transactions_page(
    store: Store, args: Mapping[str, str], methods: list[str], base_url: str
) -> dict[str, Any]:
    """The body of GET /transactions: newest first, ``limit`` per page, ``after``/``before`` cursors."""
    raw_limit = args.get("limit") or "100"
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= 1000:  # "²".isdigit()
        raise Reject(400, 1000, "limit: must be an integer from 1 to 1000")
    limit = int(raw_limit)
    after = _decode_cursor(args["after"], "after") if args.get("after") else None
    before = _decode_cursor(args["before"], "before") if args.get("before") else None
    matches = _matcher(args, methods)
    with store.lock:
        indexed = [(i, transaction_view(t)) for i, t in enumerate(store.transactions)]
    rows = [(i, v) for i, v in reversed(indexed) if matches(v)]  # newest first
    if after is not None:
        page = [r for r in rows if r[0] < after][:limit]
    elif before is not None:
        page = [r for r in rows if r[0] > before][-limit:]
    else:
        page = rows[:limit]
    kept = {k: args[k] for k in TRANSACTION_FILTERS if args.get(k) and k != "payment_method"}
    kept_methods = [("payment_method", m) for m in methods]
    cursor = {"after": _encode_cursor(page[-1][0]), "before": _encode_cursor(page[0][0])} if page else {}

    def link(name: str) -> str:
        query = urlencode([*kept.items(), *kept_methods, (name, cursor[name]), ("limit", limit)])
        return f"{base_url}transactions?{query}"

    pager: dict[str, Any] = {"limit": limit}
    if cursor:  # an empty page has no cursors at all (the spec allows none of them to be null)
        pager.update(after=link("after"), before=link("before"), cursor=cursor)
    return {"success": True, "data": [v for _, v in page], "pager": pager}


def gateway_view(gateway: Gateway) -> dict[str, Any]:
    return {"id": gateway.id, "description": gateway.description} | (
        {"type": gateway.type} if gateway.type else {}
    )


_BNPL = {"KLARNA", "IN3", "AFTERPAY", "BILLINK", "EINVOICE", "BNPL_MF"}


def payment_method_view(gateway: Gateway) -> dict[str, Any]:
    icon = gateway.id.lower()
    icons = {
        "large": f"https://media.multisafepay.com/img/methods/3x/{icon}.png",
        "medium": f"https://media.multisafepay.com/img/methods/2x/{icon}.png",
        "vector": f"https://media.multisafepay.com/img/methods/svg/{icon}.svg",
    }
    return {
        "additional_data": {},
        "allowed_amount": {"max": None, "min": 0},
        "allowed_countries": [],
        "allowed_currencies": sorted(CURRENCIES) if gateway.form == "card" else ["EUR"],
        "apps": {
            "fastcheckout": {"is_enabled": True},
            "payment_components": {
                "has_fields": gateway.form == "card",
                "is_enabled": gateway.form == "card",
            },
        },
        "brands": [],
        "icon_urls": icons,
        "id": gateway.id,
        "name": gateway.description,
        "preferred_countries": [],
        "required_customer_data": ["birthday", "phone"] if gateway.id in _BNPL else [],
        "shopping_cart_required": gateway.id in _BNPL,
        "tokenization": {
            "is_enabled": gateway.form == "card",
            "models": {
                "cardonfile": gateway.form == "card",
                "subscription": gateway.form == "card",
                "unscheduled": gateway.form == "card",
            },
        },
        "type": "coupon" if gateway.type == "coupon" else "payment-method",
    }


def payment_methods(include_coupons: bool) -> list[dict[str, Any]]:
    return [
        payment_method_view(g)
        for g in GATEWAYS.values()
        if g.id != "CREDITCARD" and (include_coupons or g.type != "coupon")
    ]
