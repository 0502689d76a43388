"""Broken: parses the JSON and re-serialises it before checking the signature.

    python examples/webhook_handlers/reserialises.py --port 5000 --api-key KEY

This is what the official Python SDK's ``Webhook.validate`` does (compact separators, no ASCII escapes).
It works while MultiSafepay's bytes happen to be in that form, and refuses a genuine notification that
is not: escaped slashes (``\\/``) or another spelling of the same JSON. The signature covers the raw
bytes, not the parsed object. check_webhook fails: raw_body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import shop
from flask import Flask, request


def create_app(api_key: str, api: str) -> Flask:
    app = Flask(__name__)
    orders = shop.Orders()
    shop.add_status_probe(app, orders)

    @app.post("/webhook")
    def webhook() -> tuple[str, int]:
        order = request.get_json(force=True)
        try:
            ts, signature = base64.b64decode(request.headers.get("Auth", "")).decode().split(":")
            fresh = int(ts) + 600 >= time.time()
        except ValueError:
            return "refused: malformed", 403
        canonical = json.dumps(order, separators=(",", ":"), ensure_ascii=False)  # the fault: not the bytes sent
        expected = hmac.new(api_key.strip().encode(), f"{ts}:{canonical}".encode(), hashlib.sha512).hexdigest()
        if not (fresh and hmac.compare_digest(expected, signature)):
            return "refused: signature", 403
        orders.record(order)
        return "OK", 200

    return app


if __name__ == "__main__":
    args = shop.parse_args(__doc__)
    shop.serve(create_app(args.api_key, args.sandbox), args.port)
