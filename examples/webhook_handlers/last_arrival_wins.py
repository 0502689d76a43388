"""Broken: keeps the status of whichever notification arrived last.

    python examples/webhook_handlers/last_arrival_wins.py --port 5000 --api-key KEY

Notifications can arrive out of order (a retry of ``initialized`` after ``completed``); this shop then
believes a paid order is unpaid. Keep the newest by the order's ``modified`` time instead.
check_webhook fails: final_state (with ``probe``).
"""

from __future__ import annotations

from typing import Any

import shop
from correct import Refused, read_notification
from flask import Flask, jsonify, request


def create_app(api_key: str, api: str) -> Flask:
    app = Flask(__name__)
    statuses: dict[str, str] = {}

    @app.route("/webhook", methods=["POST", "GET"])
    def webhook() -> tuple[str, int]:
        try:
            order = read_notification(api_key, api)
        except Refused as exc:
            return exc.text, exc.status
        statuses[str(order["order_id"])] = order["status"]  # the fault: no look at "modified"
        return "OK", 200

    @app.get("/status")
    def status() -> Any:
        found = statuses.get(request.args.get("order_id", ""))
        return jsonify(status=found), 200 if found is not None else 404

    return app


if __name__ == "__main__":
    args = shop.parse_args(__doc__)
    shop.serve(create_app(args.api_key, args.sandbox), args.port)
