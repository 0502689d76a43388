"""Check request bodies the way MultiSafepay does, and say which field broke which rule.

Every check raises ``Reject`` carrying the HTTP status, MultiSafepay ``error_code`` and an
``error_info`` that starts with the field's name, so the sandbox never answers bad input with a 500.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from .catalog import CURRENCIES, GATEWAYS


class Reject(Exception):
    """An invalid request: becomes the MultiSafepay error envelope."""

    def __init__(self, status: int, error_code: int, error_info: str) -> None:
        super().__init__(error_info)
        self.status, self.error_code, self.error_info = status, error_code, error_info


ORDER_TYPES = ("redirect", "direct", "paymentlink", "checkout")
_LOCALE = re.compile(r"^[a-z]{2}_[A-Z]{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
MAX_AMOUNT = 10**11  # one billion in units: past this it is a typo, not a test


def _string(
    body: dict[str, Any],
    key: str,
    code: int,
    *,
    max_len: int,
    required: bool = False,
    label: str | None = None,
) -> str | None:
    name = label or key
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise Reject(400, code, f"{name}: is required")
        return None if value is None else ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Reject(400, code, f"{name}: must be a string")
    value = str(value)
    if len(value) > max_len:
        raise Reject(400, code, f"{name}: must be at most {max_len} characters")
    return value


def _dict(body: dict[str, Any], key: str, label: str | None = None) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Reject(400, 1000, f"{label or key}: must be an object")
    return value


def _url(value: Any, name: str, max_len: int = 2000) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise Reject(400, 1000, f"{name}: must be a URL of at most {max_len} characters")
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket: "http://[::1"
        raise Reject(400, 1000, f"{name}: must be an absolute http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Reject(400, 1000, f"{name}: must be an absolute http(s) URL")
    return value


def amount(value: Any, name: str = "amount", *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Reject(400, 1001, f"{name}: must be an integer amount in cents")
    if value < minimum or value > MAX_AMOUNT:
        raise Reject(400, 1001, f"{name}: must be between {minimum} and {MAX_AMOUNT} cents")
    return value


def currency(value: Any, name: str = "currency") -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
        raise Reject(400, 1002, f"{name}: must be a 3-letter ISO 4217 code")
    if value.upper() not in CURRENCIES:
        raise Reject(400, 1002, f"{name}: {value.upper()} is not supported")
    return value.upper()


def _int_range(body: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Reject(400, 1000, f"{key}: must be an integer from {low} to {high}")
    return value


def _customer(raw: dict[str, Any]) -> dict[str, Any]:
    customer = dict(raw)
    for key in (
        "first_name",
        "last_name",
        "address1",
        "address2",
        "house_number",
        "zip_code",
        "city",
        "state",
        "phone",
        "company_name",
        "referrer",
        "user_agent",
        "gender",
        "birthday",
        "reference",
    ):
        _string(customer, key, 1000, max_len=1000, label=f"customer.{key}")
    locale = customer.get("locale")
    if locale is not None and (not isinstance(locale, str) or not _LOCALE.match(locale)):
        raise Reject(400, 1000, "customer.locale: must look like en_US")
    email = _string(customer, "email", 1000, max_len=64, label="customer.email")
    if email and "@" not in email:
        raise Reject(400, 1000, "customer.email: must be an email address")
    country = customer.get("country")
    if country not in (None, "") and (not isinstance(country, str) or not _COUNTRY.match(country)):
        raise Reject(400, 1018, "customer.country: must be an ISO 3166-1 alpha-2 code like NL")
    for key in ("ip_address", "forwarded_ip"):
        value = customer.get(key)
        if value not in (None, ""):
            try:
                ipaddress.ip_address(value if isinstance(value, str) else "x")
            except ValueError:
                raise Reject(400, 1007, f"customer.{key}: must be an IPv4 or IPv6 address") from None
    return customer


def order(body: Any) -> dict[str, Any]:
    """Validate a POST /orders body and return the fields the sandbox keeps."""
    if not isinstance(body, dict):
        raise Reject(400, 1016, "body: must be a JSON object describing the order")
    kind = body.get("type") or "redirect"
    if kind not in ORDER_TYPES:
        raise Reject(400, 1000, f"type: must be one of {', '.join(ORDER_TYPES)}")
    order_id = _string(body, "order_id", 1006, max_len=50, required=True)
    amount(body.get("amount"))
    currency(body.get("currency"))
    _string(body, "description", 1008, max_len=200, required=True)
    gateway = body.get("gateway") or None
    if gateway is not None:
        if not isinstance(gateway, str) or gateway.upper() not in GATEWAYS:
            raise Reject(400, 1023, f"gateway: {str(gateway)[:50]!r} is not an available payment method")
        gateway = gateway.upper()
    if kind == "direct":
        if gateway is None:
            raise Reject(400, 1023, "gateway: is required for a direct order")
        if not GATEWAYS[gateway].direct:
            raise Reject(400, 1023, f"gateway: {gateway} does not support direct orders")
    options = _dict(body, "payment_options")
    _url(options.get("notification_url"), "payment_options.notification_url", max_len=150)
    _url(options.get("redirect_url"), "payment_options.redirect_url")
    _url(options.get("cancel_url"), "payment_options.cancel_url")
    method = options.get("notification_method")
    if method not in (None, "POST", "GET"):
        raise Reject(400, 1000, "payment_options.notification_method: must be POST or GET")
    if not isinstance(options.get("close_window", False), bool):
        raise Reject(400, 1000, "payment_options.close_window: must be true or false")
    customer = _customer(_dict(body, "customer"))
    for key in ("var1", "var2", "var3"):
        _string(body, key, 1010, max_len=500)
    custom_info = _dict(body, "custom_info")
    for key, value in custom_info.items():
        if value is not None and not isinstance(value, str | int | float):
            raise Reject(400, 1000, f"custom_info.{key}: must be a string")
    items = body.get("items")
    if items is not None and not isinstance(items, str):
        raise Reject(400, 1000, "items: must be an HTML string (use shopping_cart for cart lines)")
    cart = _dict(body, "shopping_cart")
    if cart and not isinstance(cart.get("items", []), list):
        raise Reject(400, 1000, "shopping_cart.items: must be a list")
    for i, line in enumerate(cart.get("items") or []):
        if not isinstance(line, dict):
            raise Reject(400, 1000, f"shopping_cart.items[{i}]: must be an object")
    if body.get("capture") not in (None, "manual"):
        raise Reject(400, 1000, 'capture: must be "manual" when given')
    days = _int_range(body, "days_active", 1, 365)
    seconds = _int_range(body, "seconds_active", 1, 31_536_000)
    return {
        "type": kind,
        "order_id": order_id,
        "gateway": gateway,
        "payment_options": options,
        "customer": customer,
        "custom_info": custom_info,
        "gateway_info": _dict(body, "gateway_info"),
        "delivery": _dict(body, "delivery"),
        "shopping_cart": cart or None,
        "checkout_options": _dict(body, "checkout_options") or None,
        # seconds_active wins over days_active; 30 days when neither is given
        "lifetime": seconds or (days or 30) * 86400,
    }


def refund(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Reject(400, 1016, "body: must be a JSON object")
    if "checkout_data" in body:
        raise Reject(400, 1034, "checkout_data: refunds by shopping cart are not supported by the sandbox")
    currency(body.get("currency"))
    value = body.get("amount")
    if value not in (None, "", 0):
        amount(value)
    _string(body, "description", 1000, max_len=200)
    _string(body, "refund_order_id", 1006, max_len=50)
    return body


def timestamp(value: str, name: str) -> datetime:
    """The /transactions date filters take 2021-01-01T12:00:00, 2021-01-01 or unix seconds."""
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), timezone.utc).replace(tzinfo=None)
        return datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        raise Reject(400, 1000, f"{name}: must be a date, a date and time, or unix seconds") from None
