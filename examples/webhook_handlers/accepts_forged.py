"""Broken: checks that the Auth header is there and fresh, but only logs a signature that does not match.

    python examples/webhook_handlers/accepts_forged.py --port 5000 --api-key KEY

"Log it for now, enforce it later": anyone who knows the notification URL can then mark an order paid.
check_webhook fails: forged_signature, tampered_body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import shop
from flask import Flask, request

log = logging.getLogger(__name__)


def create_app(api_key: str, api: str) -> Flask:
    app = Flask(__name__)
    orders = shop.Orders()
    shop.add_status_probe(app, orders)

    @app.post("/webhook")
    def webhook() -> tuple[str, int]:
        body = request.get_data()
        try:
            ts, signature = base64.b64decode(request.headers.get("Auth", "")).decode().split(":", 1)
            if int(ts) + 600 < time.time():
                return "refused: stale", 403
        except ValueError:
            return "refused: malformed", 403
        expected = hmac.new(api_key.strip().encode(), ts.encode() + b":" + body, hashlib.sha512).hexdigest()
        if not hmac.compare_digest(expected, signature):
            log.warning("signature mismatch on %s", request.args.get("transactionid"))  # the fault: goes on
        orders.record(json.loads(body))
        return "OK", 200

    return app


if __name__ == "__main__":
    args = shop.parse_args(__doc__)
    shop.serve(create_app(args.api_key, args.sandbox), args.port)
