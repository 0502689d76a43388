"""Sign and verify MultiSafepay webhook notifications.

A POST notification carries the order as its JSON body and an ``Auth`` header::

    Auth = base64(ts + ":" + hex(HMAC-SHA512(key=api_key, msg=ts + ":" + body)))

where ``ts`` is unix time in seconds. The signature covers the raw body bytes exactly as received.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any

from .encoding import compact_json_bytes
from .errors import SignatureError

DEFAULT_TOLERANCE = 600  # seconds, as MultiSafepay's own SDKs


def encode_body(order: dict[str, Any]) -> bytes:
    """Serialise an order the way notifications are sent: compact JSON, UTF-8, no ASCII escapes.

    This is also the form the official Python SDK re-serialises to before it checks a signature,
    so bodies built here verify under both the raw-body method and ``Webhook.validate``.
    """
    return compact_json_bytes(order)


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _digest(body: bytes, api_key: str, timestamp: str) -> str:
    message = timestamp.encode() + b":" + body
    return hmac.new(api_key.strip().encode(), message, hashlib.sha512).hexdigest()


def sign_notification(body: bytes | str, api_key: str, timestamp: int | str) -> str:
    """Return the ``Auth`` header value for a notification body sent at ``timestamp`` (unix seconds)."""
    ts = str(int(timestamp))
    signature = _digest(_as_bytes(body), api_key, ts)
    return base64.b64encode(f"{ts}:{signature}".encode()).decode()


def verify_notification(
    body: bytes | str,
    auth: str | None,
    api_key: str,
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a notification's ``Auth`` header and return its timestamp.

    Parameters
    ----------
    body : the raw request body, exactly as received.
    auth : the ``Auth`` header value.
    tolerance : how many seconds old the timestamp may be; ``None`` skips the age check.
    now : unix time to judge staleness against (default: the current time).

    Raises
    ------
    SignatureError
        with ``reason`` "malformed" (header is not base64 of ``ts:hexdigest``), "signature"
        (the HMAC does not match) or "stale" (older than ``tolerance`` seconds).
    """
    if not auth:
        raise SignatureError("malformed", "Auth header is missing")
    try:
        decoded = base64.b64decode(auth.strip(), validate=True).decode("ascii")
        ts, signature = decoded.split(":", 1)
        timestamp = int(ts)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SignatureError("malformed", "Auth header is not base64 of 'timestamp:signature'") from None
    if not ts.isdigit() or len(signature) != 128:
        raise SignatureError("malformed", "Auth header is not base64 of 'timestamp:signature'")
    expected = _digest(_as_bytes(body), api_key, ts)
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureError("signature", "signature does not match the body and API key")
    if tolerance is not None:
        age = (time.time() if now is None else now) - timestamp
        if age > tolerance:
            raise SignatureError(
                "stale", f"timestamp {timestamp} is {int(age)} s old (tolerance {tolerance} s)"
            )
    return timestamp
