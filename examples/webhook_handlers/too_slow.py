"""Broken: sends the invoice (slow) before answering OK to a newly completed order.

    python examples/webhook_handlers/too_slow.py --port 5000 --api-key KEY [--delay 12]

MultiSafepay waits only so long for the answer; an answer that comes too late counts as failed and the
notification is retried. Answer first, do slow work afterwards (a queue, a thread). check_webhook fails:
answer_time (with ``timeout`` below ``--delay``).
"""

from __future__ import annotations

import threading
import time

import shop
from correct import Refused, read_notification
from flask import Flask


def create_app(api_key: str, api: str, delay: float) -> Flask:
    app = Flask(__name__)
    orders = shop.Orders()
    shop.add_status_probe(app, orders)
    invoiced: set[str] = set()
    lock = threading.Lock()

    @app.route("/webhook", methods=["POST", "GET"])
    def webhook() -> tuple[str, int]:
        try:
            order = read_notification(api_key, api)
        except Refused as exc:
            return exc.text, exc.status
        orders.record(order)
        with lock:
            first = order.get("status") == "completed" and order["order_id"] not in invoiced
            if first:
                invoiced.add(order["order_id"])
        if first:
            time.sleep(delay)  # the fault: "render the invoice PDF and e-mail it" before answering
        return "OK", 200

    return app


if __name__ == "__main__":
    parser = shop.argument_parser(__doc__)
    parser.add_argument("--delay", type=float, default=12.0, help="seconds the invoice takes (default 12)")
    args = parser.parse_args()
    shop.serve(create_app(args.api_key, args.sandbox, args.delay), args.port)
