"""What the client checks before it sends anything: types, and the few rules it must know itself.

MultiSafepay's business rules (lengths, amounts, currencies, order types, which gateway a direct order
needs) belong to the API, and the sandbox answers them as the API does, naming the field. The client
only refuses what it could not send or could not make sense of afterwards: a value of the wrong type,
a missing ``order_id`` (it goes into URLs, and a lost create is recovered by it), an ``order_id`` of
``.`` or ``..`` (URL normalisation would send the request to another path), a key that cannot travel in
a header, a base URL that is not one, and the live API unless it is asked for by name.
Every check raises ``ValidationError(field, rule)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .config import TEST_API, environment
from .errors import ValidationError

OBJECT_FIELDS = (
    "customer", "delivery", "payment_options", "gateway_info", "custom_info", "shopping_cart",
    "checkout_options", "second_chance", "plugin",
)  # fmt: skip


def text(field: str, value: Any) -> str:
    """A required string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(field, "is required")
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, not {type(value).__name__}")
    return value


def order_id(value: Any, field: str = "order_id") -> str:
    text(field, value)
    if value in (".", ".."):  # URL normalisation would turn /orders/.. into a different path
        raise ValidationError(field, "cannot be '.' or '..'")
    return str(value)


def amount(value: Any, field: str = "amount") -> int:
    """An amount in cents: an integer (the API says which amounts it takes)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be an integer amount in cents (1000 = 10.00), not {type(value).__name__}")
    return value


def order(body: Mapping[str, Any]) -> None:
    """A create-order body: the fields every order has, of the right types; objects as dicts."""
    order_id(body.get("order_id"))
    amount(body.get("amount"))
    text("currency", body.get("currency"))
    text("description", body.get("description"))
    for field in ("type", "gateway"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise ValidationError(field, f"must be a string, not {type(body[field]).__name__}")
    for field in OBJECT_FIELDS:
        if body.get(field) is not None and not isinstance(body[field], Mapping):
            raise ValidationError(field, f"must be a dict, not {type(body[field]).__name__}")


def api_key(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise ValidationError("api_key", f"must be a string, not {type(value).__name__}")
    key = (value or "").strip()
    if not key:
        raise ValidationError(
            "api_key", "is required: pass Client(api_key=...), set MSP_API_KEY, or use connect() for the sandbox"
        )
    # requests would reject such a header with an error message that quotes the whole value.
    if not key.isascii() or not key.isprintable() or " " in key:
        raise ValidationError("api_key", "must be printable ASCII without spaces")
    return key


def base_url(value: Any, allow_live: bool) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname:
        raise ValidationError("base_url", "must be an http(s) URL like " + TEST_API)
    if environment(value) == "live" and not allow_live:
        raise ValidationError(
            "base_url", "is the live API, where payments are real; pass allow_live=True if you mean it"
        )
    return value.rstrip("/")


def seconds(field: str, value: Any, *, zero: bool = False) -> float:
    """A positive, finite number of seconds (zero too, with ``zero``)."""
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not number or value < 0 or (value == 0 and not zero):
        raise ValidationError(field, f"must be a {'non-negative' if zero else 'positive'} number of seconds")
    return float(value)


def count(field: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(field, f"must be an integer of at least {minimum}")
    return value
