"""What every example handler here shares: its command line, its order store, the status probe, the server.

Not a handler itself: ``correct.py`` is the one to copy. The broken ones differ from it in one place each.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any
from urllib.parse import quote

import requests
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

# `msp-explore sandbox` listens here unless told otherwise; the real test API would be
# https://testapi.multisafepay.com/v1/json
DEFAULT_API = "http://127.0.0.1:8765/v1/json"


def argument_parser(description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (0: any free port)")
    parser.add_argument("--api-key", required=True, help="the website API key notifications are signed with")
    parser.add_argument("--sandbox", default=DEFAULT_API, help=f"the API base to fetch orders from ({DEFAULT_API})")
    return parser


def parse_args(description: str | None) -> argparse.Namespace:
    return argument_parser(description).parse_args()


class Orders:
    """The shop's view of its orders: the newest notification of each, by the order's ``modified`` time.

    Notifications can arrive out of order (a retry of an older status after a newer one), so the one
    that arrived last is not necessarily the order's current state.
    """

    def __init__(self) -> None:
        self._orders: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def record(self, order: dict[str, Any]) -> None:
        order_id = str(order["order_id"])
        with self._lock:
            known = self._orders.get(order_id)
            # MultiSafepay writes times as 2026-01-01T12:00:03, which sort as text
            if known is None or str(order.get("modified") or "") >= str(known.get("modified") or ""):
                self._orders[order_id] = order

    def status(self, order_id: str) -> str | None:
        with self._lock:
            order = self._orders.get(order_id)
        return None if order is None else order.get("status")


def add_status_probe(app: Flask, orders: Orders) -> None:
    """``GET /status?order_id=...`` answers ``{"status": ...}``: what the shop believes (for check_webhook)."""

    @app.get("/status")
    def status() -> Any:
        found = orders.status(request.args.get("order_id", ""))
        return jsonify(status=found), 200 if found is not None else 404


def fetch_order(api: str, api_key: str, order_id: str) -> dict[str, Any]:
    """The order as the API has it now: what a GET notification asks the shop to look up."""
    response = requests.get(f"{api}/orders/{quote(order_id, safe='')}", headers={"api_key": api_key}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]  # type: ignore[no-any-return]


def serve(app: Flask, port: int) -> None:
    """Serve ``app`` on 127.0.0.1 with Flask's own server until SIGTERM or Ctrl-C; print the URL first."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request; errors still show
    server = make_server("127.0.0.1", port, app, threaded=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # serve_forever ends on it and closes the socket

    try:  # a SIGTERM from here on, even before serving begins, ends in the clean stop below
        signal.signal(signal.SIGTERM, stop)
        print(f"Serving on http://127.0.0.1:{server.server_port}/webhook", flush=True)
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("stopped", flush=True)
