"""A correct MultiSafepay webhook handler: verify the raw body, store, and only then answer OK.

    python examples/webhook_handlers/correct.py --port 5000 --api-key KEY [--sandbox URL]

POST notifications are verified over their raw bytes with ``verify_notification``; GET notifications
(no body, no signature) are looked up with GET /orders/{transactionid} on the API given by --sandbox.
A repeat is stored again and answered OK again: refusing it would only make MultiSafepay retry.
``GET /status?order_id=`` answers what the shop now believes, for ``check_webhook(probe=...)``.
"""

from __future__ import annotations

import json
from typing import Any

import requests
import shop
from flask import Flask, request

from msp_explore import SignatureError, verify_notification


class Refused(Exception):
    """A notification not to acknowledge, and the answer to give it."""

    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.text, self.status = text, status


def read_notification(api_key: str, api: str) -> dict[str, Any]:
    """The order the current notification is about: verified (POST) or fetched from the API (GET)."""
    if request.method == "GET":
        try:
            return shop.fetch_order(api, api_key, request.args.get("transactionid", ""))
        except requests.RequestException as exc:
            raise Refused(f"cannot fetch the order: {type(exc).__name__}", 503) from None
    body = request.get_data()  # the raw bytes: the signature covers exactly these
    try:
        verify_notification(body, request.headers.get("Auth"), api_key)
    except SignatureError as exc:
        raise Refused(f"refused: {exc.reason}", 403) from None
    return json.loads(body)  # type: ignore[no-any-return]


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
        orders.record(order)  # stored before answering: if this fails, MultiSafepay retries
        return "OK", 200

    return app


if __name__ == "__main__":
    args = shop.parse_args(__doc__)
    shop.serve(create_app(args.api_key, args.sandbox), args.port)
