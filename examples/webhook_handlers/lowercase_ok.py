"""Broken: answers ``ok`` in lower case.

    python examples/webhook_handlers/lowercase_ok.py --port 5000 --api-key KEY

MultiSafepay looks for ``OK`` (or ``MULTISAFEPAY_OK``) in capitals; ``ok`` is not an acknowledgement,
so every notification is retried. check_webhook fails: genuine, duplicate, resend, out_of_order,
raw_body, large_body.
"""

from __future__ import annotations

import shop
from correct import Refused, read_notification
from flask import Flask


def create_app(api_key: str, api: str) -> Flask:
    app = Flask(__name__)
    orders = shop.Orders()
    shop.add_status_probe(app, orders)

    @app.route("/webhook", methods=["POST", "GET"])
    def webhook() -> tuple[str, int]:
        try:
            order = read_notification(api_key, api)
        except Refused as exc:
            return exc.text, exc.status
        orders.record(order)
        return "ok", 200  # the fault

    return app


if __name__ == "__main__":
    args = shop.parse_args(__doc__)
    shop.serve(create_app(args.api_key, args.sandbox), args.port)
