"""Broken: refuses a notification for an order and status it has already handled (409).

    python examples/webhook_handlers/refuses_duplicates.py --port 5000 --api-key KEY

Meant to stop double invoices, it does the opposite: the refused repeat is retried for an hour, and a
retry of a notification whose first answer was lost is never acknowledged. Deduplicate, but answer OK.
check_webhook fails: duplicate, resend.
"""

from __future__ import annotations

import threading

import shop
from correct import Refused, read_notification
from flask import Flask


def create_app(api_key: str, api: str) -> Flask:
    app = Flask(__name__)
    orders = shop.Orders()
    shop.add_status_probe(app, orders)
    seen: set[tuple[str, str]] = set()
    lock = threading.Lock()

    @app.route("/webhook", methods=["POST", "GET"])
    def webhook() -> tuple[str, int]:
        try:
            order = read_notification(api_key, api)
        except Refused as exc:
            return exc.text, exc.status
        with lock:
            key = (str(order.get("order_id")), str(order.get("status")))
            if key in seen:
                return "duplicate notification", 409  # the fault
            seen.add(key)
        orders.record(order)
        return "OK", 200

    return app


if __name__ == "__main__":
    args = shop.parse_args(__doc__)
    shop.serve(create_app(args.api_key, args.sandbox), args.port)
