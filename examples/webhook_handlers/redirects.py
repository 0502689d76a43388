"""Broken: stores the notification, then redirects to a "thank you" page that says OK (302).

    python examples/webhook_handlers/redirects.py --port 5000 --api-key KEY

Post/Redirect/Get is right for a browser, wrong for a webhook: MultiSafepay does not follow redirects,
so every notification counts as failed and is retried. check_webhook fails: genuine, duplicate,
resend, out_of_order, raw_body, large_body.
"""

from __future__ import annotations

from typing import Any

import shop
from correct import Refused, read_notification
from flask import Flask, redirect


def create_app(api_key: str, api: str) -> Flask:
    app = Flask(__name__)
    orders = shop.Orders()
    shop.add_status_probe(app, orders)

    @app.route("/webhook", methods=["POST", "GET"])
    def webhook() -> Any:
        try:
            order = read_notification(api_key, api)
        except Refused as exc:
            return exc.text, exc.status
        orders.record(order)
        return redirect("/webhook/thanks", 302)  # the fault

    @app.get("/webhook/thanks")
    def thanks() -> str:
        return "OK"

    return app


if __name__ == "__main__":
    args = shop.parse_args(__doc__)
    shop.serve(create_app(args.api_key, args.sandbox), args.port)
