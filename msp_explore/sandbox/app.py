"""The sandbox's Flask app: MultiSafepay's JSON API under /v1/json, and the hosted payment page."""

from __future__ import annotations

import hmac
import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from .._server import DropConnection
from . import listing
from .catalog import GATEWAYS, issuers, listed_gateways, scenario_list
from .faults import DROPPING, FaultRules, fault_controls, status_envelope
from .store import FAILED, Store, encode
from .validate import Reject

api = Blueprint("api", __name__, url_prefix="/v1/json")
page = Blueprint("page", __name__)
api.register_blueprint(fault_controls)  # /v1/json/sandbox/faults: behind the API's authentication

_ENVELOPE_HEAD, _ENVELOPE_TAIL = b'{"success":true,"data":', b"}"
_LATEST = datetime(9000, 1, 1)  # how far the clock may be advanced: room left for lifetimes and retries
_JSON = "application/json"


def create_app(store: Store, faults: FaultRules | None = None) -> Flask:
    app = Flask(__name__)
    app.config["STORE"] = store
    app.config["FAULTS"] = faults = faults if faults is not None else FaultRules(store.seed)
    store.notifier.faults = faults  # the webhook-side rules act where notifications are sent
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # far above any real order; stops runaway bodies
    app.json.sort_keys = True  # type: ignore[attr-defined]
    # order IDs may hold "//" or start with "/" (sent as %2F): serve them, don't redirect to another order
    app.url_map.merge_slashes = False
    app.register_blueprint(api)
    app.register_blueprint(page)
    app.register_error_handler(Reject, _reject)
    app.register_error_handler(HTTPException, _http_error)
    # App-wide, so that they run before the blueprint's authentication and after its request log, and
    # for paths no route matches too.
    app.before_request(inject_fault)
    app.after_request(drop_after_effect)
    return app


def _store() -> Store:
    return current_app.config["STORE"]  # type: ignore[no-any-return]


def _faults() -> FaultRules:
    return current_app.config["FAULTS"]  # type: ignore[no-any-return]


def error(status: int, error_code: int, error_info: str) -> Response:
    """The one place error envelopes are made."""
    body = {"success": False, "data": {}, "error_code": error_code, "error_info": error_info}
    return Response(encode(body), status=status, mimetype=_JSON)


def _reject(exc: Reject) -> Response:
    if request.blueprint == "page":
        return _render_page(exc.error_info, status=400)
    return error(exc.status, exc.error_code, exc.error_info)


def _http_error(exc: HTTPException) -> Response:
    if exc.code == 404 and request.path.startswith("/v1/json/transactions/"):
        return Response(b'{"message":"Not found"}', status=404, mimetype=_JSON)
    return error(exc.code or 400, 1000, exc.description or exc.name)


def ok(data: Any) -> Response:
    return Response(encode({"success": True, "data": data}), mimetype=_JSON)


def _key_given() -> str:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("api_key") or request.args.get("api_key") or ""


@api.before_request
def authenticate() -> Response | None:
    store = _store()
    if not hmac.compare_digest(_key_given().encode(), store.api_key.encode()):
        if request.path.startswith("/v1/json/transactions"):
            return Response(b'{"message":"Forbidden"}', status=403, mimetype=_JSON)
        return error(401, 1032, "Invalid API key")
    if store.timers and store.timers[0][0] <= store.clock.now():
        store.run_timers()
    return None


def _body() -> Any:
    raw = request.get_data()
    if not raw.strip():
        return None
    try:
        body = json.loads(raw, parse_constant=_not_json)
        # a lone surrogate ("\ud800") parses, but could be neither stored nor sent back as UTF-8
        encode(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise Reject(400, 1000, "body: is not valid JSON") from None
    return body


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's json reads NaN and Infinity; JSON has neither


# -- faults on demand (see faults.py) ------------------------------------------------------------------
def inject_fault() -> Response | None:
    g.received = time.time()
    faults = _faults()
    rule = faults.match(request.method, request.environ.get("REQUEST_URI") or request.full_path)
    if rule is None:
        return None
    g.fault = rule["kind"]
    if rule["kind"] == "latency":
        faults.wait(rule["value"])
    elif rule["kind"] == "status":
        response = error(rule["value"], *status_envelope(rule["value"]))
        if rule["retry_after"] is not None:
            response.headers["Retry-After"] = str(rule["retry_after"])
        return response
    elif rule["kind"] in ("reset", "stall"):
        _remember(None)
        if rule["kind"] == "stall":
            faults.stall(rule)
        raise DropConnection
    return None


def drop_after_effect(response: Response) -> Response:
    if g.get("fault") == "after_effect":
        response.close()
        raise DropConnection  # the request ran and took effect; its answer never leaves
    return response


# -- orders ---------------------------------------------------------------------------------------
@api.post("/orders")
def create_order() -> Response:
    store = _store()
    order = store.create_order(_body(), request.host_url)
    if order.type == "direct":
        data = order.body[:-1] + b',"payment_url":' + encode(order.payment_url) + b"}"
        return Response(_ENVELOPE_HEAD + data + _ENVELOPE_TAIL, mimetype=_JSON)
    return ok({"order_id": order.order_id, "payment_url": order.payment_url, "session_id": order.session_id})


@api.get("/orders/<path:order_id>")
def get_order(order_id: str) -> Response:
    order = _store().get(order_id)
    return Response(_ENVELOPE_HEAD + order.body + _ENVELOPE_TAIL, mimetype=_JSON)


@api.patch("/orders/<path:order_id>")
def update_order(order_id: str) -> Response:
    return ok(_store().update_order(order_id, _body()))


@api.post("/orders/<path:order_id>/refunds")
def refund_order(order_id: str) -> Response:
    return ok(_store().refund(order_id, _body()))


@api.patch("/orders/<path:order_id>/refunds/<refund_id>")
def cancel_refund(order_id: str, refund_id: str) -> Response:
    return ok(_store().cancel_refund(order_id, refund_id, _body()))


@api.post("/orders/<path:order_id>/capture")
def capture_order(order_id: str) -> Response:
    return ok(_store().capture(order_id, _body()))


@api.post("/orders/<path:order_id>/cancel")
def cancel_transaction(order_id: str) -> Response:
    return ok(_store().cancel_transaction(order_id))


@api.patch("/capture/<path:order_id>")
def cancel_authorization(order_id: str) -> Response:
    return ok(_store().cancel_authorization(order_id, _body()))


# -- transactions, gateways, payment methods ----------------------------------------------------------
@api.get("/transactions")
def list_transactions() -> Response:
    methods = [m for value in request.args.getlist("payment_method") for m in value.split(",") if m]
    base = request.host_url + "v1/json/"
    return Response(encode(listing.transactions_page(_store(), request.args, methods, base)), mimetype=_JSON)


@api.get("/transactions/<transaction_id>")
def get_transaction(transaction_id: str) -> Response:
    store = _store()
    with store.lock:
        item = store.by_transaction_id.get(transaction_id)
        view = listing.transaction_view(item) if item is not None else None
    if view is None:
        return Response(b'{"message":"Not found"}', status=404, mimetype=_JSON)
    return ok(view)


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes", "coupons")


@api.get("/gateways")
def list_gateways() -> Response:
    return ok(listed_gateways(include_coupons=request.args.get("include") == "coupons"))


@api.get("/gateways/<gateway_id>")
def get_gateway(gateway_id: str) -> Response:
    gateway = GATEWAYS.get(gateway_id.upper())
    if gateway is None:
        return error(404, 1023, "No gateway (payment method) available")
    return ok(listing.gateway_view(gateway))


@api.get("/payment-methods")
def list_payment_methods() -> Response:
    return ok(listing.payment_methods(include_coupons=_flag("include_coupons")))


@api.get("/payment-methods/<method_id>")
def get_payment_method(method_id: str) -> Response:
    gateway = GATEWAYS.get(method_id.upper())
    if gateway is None:
        return error(404, 1023, "No gateway (payment method) available")
    return ok(listing.payment_method_view(gateway))


@api.get("/issuers/<gateway_id>")
def list_issuers(gateway_id: str) -> Response:
    found = issuers(gateway_id)
    if found is None:
        return error(404, 1023, "No gateway (payment method) available")
    return ok(found)


# -- sandbox controls (not part of MultiSafepay's API; for the CLI sandbox) -----------------------------
@api.post("/sandbox/orders/<path:order_id>/pay")
def sandbox_pay(order_id: str) -> Response:
    body = _body() or {}
    if not isinstance(body, dict):
        raise Reject(400, 1016, "body: must be a JSON object")
    scenario, gateway = body.get("scenario"), body.get("gateway")
    if not isinstance(scenario, str | int | None) or isinstance(scenario, bool):
        raise Reject(400, 1000, "scenario: must be a test scenario, card number or IBAN")
    if not isinstance(gateway, str | None):
        raise Reject(400, 1000, "gateway: must be a gateway ID such as IDEAL")
    order = _store().pay(order_id, scenario, gateway)
    return Response(_ENVELOPE_HEAD + order.body + _ENVELOPE_TAIL, mimetype=_JSON)


@api.post("/sandbox/advance")
def sandbox_advance() -> Response:
    body = _body() or {}
    seconds = body.get("seconds") if isinstance(body, dict) else None
    room = (_LATEST - _store().clock.now()).total_seconds()
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= room:
        raise Reject(400, 1000, "seconds: must be a number of seconds, zero or more, before the year 9000")
    _store().advance(seconds)
    return ok({"now": _store().clock.stamp()})


@api.post("/sandbox/reset")
def sandbox_reset() -> Response:
    store = _store()
    _faults().reset()
    store.reset()
    store.notifier.reset()
    store.clock.reset()
    return ok({})


@api.get("/sandbox/deliveries")
def sandbox_deliveries() -> Response:
    order_id = request.args.get("order_id")
    deliveries = list(_store().notifier.deliveries)
    return ok([d for d in deliveries if order_id is None or d["order_id"] == order_id])


@api.post("/sandbox/deliveries/wait")
def sandbox_wait_for_deliveries() -> Response:
    body = _body() or {}
    timeout = body.get("timeout", 10) if isinstance(body, dict) else None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 <= timeout <= 600:
        raise Reject(400, 1000, "timeout: must be a number of seconds from 0 to 600")
    return ok({"idle": _store().notifier.wait_idle(timeout)})


@api.get("/sandbox/scenarios")
def sandbox_scenarios() -> Response:
    return ok(scenario_list())


@api.get("/sandbox/requests")
def sandbox_requests() -> Response:
    order_id = request.args.get("order_id")
    seen = list(_store().requests)  # a deque's copy is atomic: no need for the store's lock
    return ok([r for r in seen if order_id is None or r["order_id"] == order_id])


@api.after_request
def remember_request(response: Response) -> Response:
    _remember(None if g.get("fault") in DROPPING else response.status_code)
    return response


def _remember(status_code: int | None) -> None:
    if request.endpoint and not request.endpoint.startswith("api.sandbox_"):
        store = _store()
        # deque.append is atomic: the store's lock (every change's lock) is not taken on every request
        store.requests.append({
            "method": request.method,
            "path": request.path,
            "order_id": (request.view_args or {}).get("order_id"),
            "status_code": status_code,  # None: the connection was closed unanswered
            "time": store.clock.stamp(),
            "received": g.get("received"),  # real unix time of arrival: how far apart retries came
            "fault": g.get("fault"),
        })  # fmt: skip


# -- the hosted payment page --------------------------------------------------------------------------
def _session_order(session_id: str) -> Any:
    store = _store()
    order_id = store.sessions.get(session_id)
    if order_id is None:
        raise Reject(404, 1006, "This payment link is not valid")
    return store.orders[order_id]


def _render_page(message: str | None = None, status: int = 200) -> Response:
    session_id = (request.view_args or {}).get("session_id", "")
    store = _store()
    order = store.orders.get(store.sessions.get(session_id, ""))
    if order is None:
        return Response(render_template("pay.html", order=None, message=message), status=404)
    chosen = order.gateway or request.values.get("gateway")
    gateway = GATEWAYS.get(str(chosen).upper()) if chosen else None
    html = render_template(
        "pay.html",
        order=order.data,
        gateway=gateway,
        gateways=[GATEWAYS[g["id"]] for g in listed_gateways(True)],
        message=message,
        payable=order.data["status"] == "initialized" and not order.attempted,
        locked=order.gateway is not None,
        preset=order.preset,
    )
    return Response(html, status=status)


@page.get("/connect/<session_id>/")
def show_page(session_id: str) -> Response:
    _session_order(session_id)
    return _render_page()


@page.post("/connect/<session_id>/")
def submit_page(session_id: str) -> Response:
    order = _session_order(session_id)
    form = request.form
    gateway = order.gateway or form.get("gateway")
    if not gateway:
        raise Reject(400, 1000, "Choose a payment method")
    choice = form.get("scenario") or form.get("card_number") or form.get("iban")
    if GATEWAYS.get(str(gateway).upper()) and GATEWAYS[str(gateway).upper()].form == "giftcard":
        if not (form.get("code") or "").isdigit() or len(form.get("code") or "") != 4:
            raise Reject(400, 1000, "Enter the card's 4-digit security code")
        if (form.get("card_number") or "").strip() not in {
            s.key for s in GATEWAYS[str(gateway).upper()].scenarios
        }:
            raise Reject(400, 1000, "Invalid card number")
    inputs = {key: form.get(key) for key in ("expiry", "holder", "card_number", "iban") if form.get(key)}
    # Whether the payment's notifications go before or after this answer (the redirect back to the shop)
    # is a race on MultiSafepay; the webhook rules before_redirect and after_redirect decide it here.
    notifier = _store().notifier
    rule = _faults().match_webhook(order.order_id, ("before_redirect", "after_redirect"))
    page = notifier.open_page(order.order_id, rule["kind"] if rule else None)
    try:
        try:
            _store().pay(order.order_id, choice, gateway, inputs)
        finally:
            notifier.close_page(page)
        status = order.data["status"]
        options = order.payment_options
        target = options.get("cancel_url") if status in FAILED else options.get("redirect_url")
        target = target or options.get("redirect_url")
        response = redirect(_with_query(target, {"transactionid": order.order_id}), code=302) if target else None
        response = response or _render_page()
    except BaseException:
        notifier.page_answered(page)
        raise
    response.call_on_close(lambda: notifier.page_answered(page))  # once the answer has gone out
    return response


def _with_query(url: str, params: dict[str, str]) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}{urlencode(params)}"
