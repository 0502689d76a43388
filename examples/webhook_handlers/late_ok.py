"""Broken: answers with an HTML page whose ``OK`` comes after the first 100 characters.

    python examples/webhook_handlers/late_ok.py --port 5000 --api-key KEY

MultiSafepay reads only the first 100 characters of the answer; a template's head pushes ``OK`` past
them, so every notification is retried. check_webhook fails: genuine, duplicate, resend, out_of_order,
raw_body, large_body.
"""

from __future__ import annotations

import shop
from correct import Refused, read_notification
from flask import Flask

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Notification received</title></head>
<body><p>Thank you. Status: OK</p></body>
</html>
"""


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
        return PAGE, 200  # the fault: "OK" is character 120 or so

    return app


if __name__ == "__main__":
    args = shop.parse_args(__doc__)
    shop.serve(create_app(args.api_key, args.sandbox), args.port)
