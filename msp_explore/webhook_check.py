"""Grade your own webhook endpoint the way MultiSafepay's notifications will test it.

Each case sends a realistic notification: a real order, created and paid on the sandbox, fetched with
GET, and signed exactly as MultiSafepay signs (the raw body, an ``Auth`` header, and
``?transactionid=<order_id>&timestamp=<unix time>``). The grader sends them itself, so that it controls
their bytes and timing, and never follows a redirect.

Usage::

    >>> report = check_webhook("http://127.0.0.1:5000/webhook", sandbox.api_key, sandbox=sandbox.url)
    >>> report.passed
    True
    >>> report.cases          # case, passed, expected, got, ms
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from . import checks
from .client import Client
from .config import mask_key
from .controls import SandboxControls
from .errors import ApiError, AuthenticationError, MspError, ValidationError
from .webhook_report import WebhookReport
from .webhook_send import Answer, Sender, describe_error, elapsed_ms
from .webhooks import encode_body, sign_notification

__all__ = ["WebhookReport", "check_webhook"]

ACKNOWLEDGE = "acknowledged: 200, OK in the first 100 characters"
REFUSE = "not acknowledged"
EXPECTED = {
    "genuine": ACKNOWLEDGE,
    "forged_signature": REFUSE,
    "tampered_body": REFUSE,
    "stale_timestamp": REFUSE,
    "missing_auth": REFUSE,
    "duplicate": ACKNOWLEDGE + ", again",
    "resend": ACKNOWLEDGE,
    "out_of_order": "both acknowledged",
    "raw_body": ACKNOWLEDGE,
    "large_body": ACKNOWLEDGE,
    "genuine_get": ACKNOWLEDGE + ", after fetching the order",
}
MUST_ACKNOWLEDGE = ("genuine", "duplicate", "resend", "out_of_order", "raw_body", "large_body", "genuine_get")
CART_LINES = 200
STALE = 3600  # seconds: "signed an hour ago"

REFUSE_FIX = {
    "forged_signature": "recompute HMAC-SHA512 of 'timestamp:raw body' with your API key and refuse a mismatch",
    "tampered_body": "the signature covers the body: verify it over the raw body as received and refuse a mismatch",
    "stale_timestamp": "refuse a notification whose Auth timestamp is more than 600 s old (a replay)",
    "missing_auth": "refuse a POST notification that has no Auth header",
}
REFUSED_FIX = {
    "genuine": "verify the Auth header over the raw body with the website API key {key}, allowing 600 s",
    "duplicate": "answer OK to a notification seen before too (deduplicate, but acknowledge): else it is retried",
    "resend": "a retry has a new timestamp and Auth: verify it afresh and answer OK, even for a status you know",
    "out_of_order": "acknowledge an older status too, and keep the newest by the order's modified time",
    "raw_body": "verify over the raw request bytes before parsing: re-serialised JSON (non-ASCII, \\/) differs",
    "large_body": "accept bodies of {kb} KB and more (a {lines}-line shopping cart)",
    "genuine_get": "answer a GET notification (no body, no Auth) by fetching GET /orders/{{transactionid}}, then OK",
}


def _escape_slashes(body: bytes) -> bytes:
    # PHP's json_encode writes "/" as "\/": valid JSON, and bytes a re-serialising verifier cannot reproduce.
    return body.replace(b"/", b"\\/")


def _prepare_orders(client: Client, controls: SandboxControls, get: bool) -> dict[str, Any]:
    """Create and pay the orders the cases notify about; return their bodies, as GET gives them."""
    tag = secrets.token_hex(4)
    ids = {name: f"webhook-check-{tag}-{name}" for name in ("a", "b", "c", "d") + (("e",) if get else ())}
    base = {"currency": "EUR", "amount": 1000, "customer": {"first_name": "Jan", "last_name": "Jansen"}}
    for name, order_id in ids.items():
        fields: dict[str, Any] = {**base, "order_id": order_id, "description": f"Webhook check {name}"}
        if name == "c":  # the raw_body order: non-ASCII names, a URL
            fields["description"] = "Webhook check: Crème brûlée für Zoë"
            fields["customer"] = {"first_name": "Zoë", "last_name": "Ångström-Øre", "city": "Zürich"}
            fields["custom_info"] = {"custom_1": f"https://shop.example/orders/{order_id}?lang=de"}
        if name == "d":  # the large_body order: a long shopping cart that adds up to the amount
            fields["shopping_cart"] = {
                "items": [
                    {"name": f"Item {i:03d}", "unit_price": 0.05, "quantity": 1, "merchant_item_id": f"sku-{i:03d}"}
                    for i in range(1, CART_LINES + 1)
                ]
            }
        client.create_order(fields)
    initialized = dict(client.get_order(ids["b"]))
    controls.advance(1)  # so that "modified" tells the initialized snapshot from the completed order
    for order_id in ids.values():
        controls.pay(order_id, "completed")
    orders = {name: dict(client.get_order(order_id)) for name, order_id in ids.items()}
    return {"ids": ids, "orders": orders, "initialized": initialized}


def _preflight(controls: SandboxControls, api_key: str) -> None:
    """One request, without the client's retries: a sandbox that is not there, or refuses the key, says so now."""
    base = controls.url
    try:
        controls.list_requests("webhook-check-preflight")
    except requests.RequestException as exc:
        raise MspError(f"cannot reach the sandbox at {base} ({type(exc).__name__})") from None
    except AuthenticationError:
        raise MspError(
            f"the sandbox at {base} refuses the API key {mask_key(api_key)}: start it with the key the handler uses"
        ) from None
    except ApiError as exc:
        raise MspError(f"{base} does not look like an msp-explore sandbox: its controls answered {exc}") from None


def _check_arguments(url: str, api_key: str, method: str, probe: str | None, timeout: float) -> str:
    """Refuse bad arguments naming the field; return the key as the client would send it (stripped)."""
    for name, value in (("url", url), ("probe", probe)):
        if value is None and name == "probe":
            continue
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(name, "must be an absolute http(s) URL, like http://127.0.0.1:5000/webhook")
    key = checks.api_key(api_key)  # the one rule for a key: any printable ASCII without spaces, as the client takes
    if method not in ("POST", "GET"):
        raise ValidationError("method", "must be POST or GET")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise ValidationError("timeout", "must be a number of seconds above 0, at most 300")
    return key


def check_webhook(
    url: str,
    api_key: str,
    *,
    method: str = "POST",
    sandbox: Any = None,
    probe: str | None = None,
    timeout: float = 10.0,
) -> WebhookReport:
    """Send the endpoint at ``url`` every case of notification, and report how it answered each.

    Parameters
    ----------
    api_key : the website API key the handler verifies signatures with (and fetches orders with).
    method : "GET" also checks GET notifications (``genuine_get``); the POST cases always run.
    sandbox : the API base URL (or a ``Sandbox``) of a running sandbox the handler is configured to
        query; by default an embedded one is started for the check, with ``api_key``.
    probe : a URL answering the handler's own view ``{"status": ...}`` for ``?order_id=``; adds
        ``final_state``.
    timeout : seconds an acknowledgement may take (``answer_time``). The grader waits up to twice as
        long for an answer, so that a slow acknowledgement shows as slow rather than as missing.

    Raises
    ------
    ValidationError for a bad argument; MspError when the sandbox cannot be reached or refuses the key.
    """
    # the stripped key from here on: masking an unstripped one would miss it in an echoed answer
    api_key = _check_arguments(url, api_key, method, probe, timeout)
    embedded = None
    if sandbox is None:
        from .sandbox import Sandbox

        embedded = Sandbox(api_key=api_key).start()
    base = str(getattr(embedded or sandbox, "url", sandbox)).rstrip("/")
    try:
        if not urlsplit(base).hostname or urlsplit(base).scheme not in ("http", "https"):
            raise ValidationError("sandbox", "must be the sandbox's API base URL, like http://127.0.0.1:8765/v1/json")
        with Client(api_key, base_url=base) as client, SandboxControls(base, api_key) as controls:
            _preflight(controls, api_key)
            sender = Sender(url, api_key, patience=2 * timeout)
            try:  # only the sandbox is reached through requests here: the sender turns its own errors into answers
                prepared = _prepare_orders(client, controls, method == "GET")
                rows, problem = _Run(sender, client, controls, prepared, api_key, base, probe, timeout).rows()
            except requests.RequestException as exc:
                raise MspError(f"cannot reach the sandbox at {base} ({type(exc).__name__})") from None
            except ValidationError:
                raise
            except MspError as exc:
                raise MspError(f"the sandbox at {base} refused the check's orders: {exc}") from None
            finally:
                sender.close()
    finally:
        if embedded is not None:
            embedded.stop()
    return WebhookReport(
        url, method, sandbox=base, key=mask_key(api_key), embedded=embedded is not None, rows=rows, problem=problem
    )


class _Run:
    """One check: the cases in order, each one request or two, stopping when the endpoint stops answering."""

    def __init__(
        self,
        sender: Sender,
        client: Client,
        controls: SandboxControls,
        prepared: dict[str, Any],
        api_key: str,
        sandbox: str,
        probe: str | None,
        timeout: float,
    ) -> None:
        self.sender, self.client, self.controls = sender, client, controls
        self.ids, self.orders, self.initialized = prepared["ids"], prepared["orders"], prepared["initialized"]
        self.key, self.sandbox, self.probe, self.timeout = api_key, sandbox, probe, timeout
        self.answers: dict[str, list[Answer]] = {}
        self.stopped: str | None = None  # why the remaining cases are not sent
        self.reached = False  # whether any notification got an HTTP answer
        self.fetched = False  # whether the handler fetched the genuine_get order from the sandbox

    def post(self, body: bytes, *, key: str | None = None, ts: int | None = None, auth: str | None = "sign") -> Answer:
        ts = int(time.time()) if ts is None else ts
        if auth == "sign":
            auth = sign_notification(body, key or self.key, ts)
        return self.sender.send("POST", self.ids["a"], ts, body, auth)

    def rows(self) -> tuple[list[dict[str, Any]], str | None]:
        a = encode_body(self.orders["a"])
        now = int(time.time())
        genuine_auth = sign_notification(a, self.key, now)
        tampered = encode_body({**self.orders["a"], "amount": self.orders["a"]["amount"] + 100})
        cases: list[tuple[str, Callable[[], list[Answer]]]] = [
            ("genuine", lambda: [self.sender.send("POST", self.ids["a"], now, a, genuine_auth)]),
            ("forged_signature", lambda: [self.post(a, key="forged-" + secrets.token_hex(16))]),
            ("tampered_body", lambda: [self.sender.send("POST", self.ids["a"], now, tampered, genuine_auth)]),
            ("stale_timestamp", lambda: [self.post(a, ts=int(time.time()) - STALE)]),
            ("missing_auth", lambda: [self.post(a, auth=None)]),
            ("duplicate", lambda: [self.sender.send("POST", self.ids["a"], now, a, genuine_auth)]),
            ("resend", lambda: [self.post(a, ts=max(int(time.time()), now + 1))]),
            ("out_of_order", self._out_of_order),
            ("raw_body", lambda: [self._send_order("c", _escape_slashes(encode_body(self.orders["c"])))]),
            ("large_body", lambda: [self._send_order("d", encode_body(self.orders["d"]))]),
        ]
        if "e" in self.ids:
            cases.append(("genuine_get", self._genuine_get))
        rows = [self._case(name, send) for name, send in cases]
        rows.append(self._answer_time())
        if self.probe is not None:
            rows.append(self._final_state())
        problem = None if self.reached else self.answers["genuine"][0].error
        return rows, problem

    def _send_order(self, name: str, body: bytes) -> Answer:
        ts = int(time.time())
        return self.sender.send("POST", self.ids[name], ts, body, sign_notification(body, self.key, ts))

    def _out_of_order(self) -> list[Answer]:
        first = self._send_order("b", encode_body(self.orders["b"]))
        if first.timed_out:
            return [first]
        return [first, self._send_order("b", encode_body(self.initialized))]

    def _genuine_get(self) -> list[Answer]:
        order_id = self.ids["e"]
        before = self._fetches(order_id)
        answer = self.sender.send("GET", order_id, int(time.time()))
        deadline = time.monotonic() + min(self.timeout, 1.0)  # a handler may fetch just after answering
        while not (fetched := self._fetches(order_id) > before) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.fetched = fetched
        return [answer]

    def _fetches(self, order_id: str) -> int:
        return sum(1 for r in self.controls.list_requests(order_id) if r["method"] == "GET")

    def _case(self, name: str, send: Callable[[], list[Answer]]) -> dict[str, Any]:
        row = {"case": name, "expected": EXPECTED[name], "passed": False, "ms": None, "fix": None}
        if self.stopped is not None:
            return {**row, "got": f"not sent: {self.stopped}", "fix": "make the endpoint answer the cases above"}
        answers: list[Answer] = send()
        self.answers[name] = answers
        self.reached = self.reached or any(answer.status is not None for answer in answers)
        failed = next((answer for answer in answers if answer.status is None), None)
        if failed is not None and (failed.timed_out or not self.reached):
            self.stopped = f"{name} got no answer ({failed.error})"
        said = [answer.describe() for answer in answers]
        got = f"{said[0]} (both)" if len(said) > 1 and len(set(said)) == 1 else "; then ".join(said)
        times = [answer.ms for answer in answers if answer.ms is not None]
        row.update(got=got, ms=max(times) if times else None)
        if failed is not None:
            return {**row, "fix": self._transport_fix(failed)}
        if name in MUST_ACKNOWLEDGE:
            bad = next((answer for answer in answers if not answer.acknowledged), None)
            if bad is not None:
                return {**row, "fix": self._acknowledge_fix(name, bad)}
            if name == "genuine_get" and not self.fetched:
                row["got"] += "; the sandbox saw no GET of the order"
                fix = f"fetch GET /orders/{{transactionid}} from {self.sandbox} with the key {mask_key(self.key)}"
                return {**row, "fix": fix + " before answering OK"}
            if name == "genuine_get":
                row["got"] += "; the handler fetched the order"
            return {**row, "passed": True}
        if answers[0].acknowledged:
            return {**row, "fix": REFUSE_FIX[name]}
        return {**row, "passed": True}

    def _transport_fix(self, answer: Answer) -> str:
        if answer.timed_out:
            return f"answer within {self.timeout:g} s: store the notification, answer OK, do slow work afterwards"
        if "refused" in str(answer.error) or "not found" in str(answer.error):
            return f"start the handler and make it listen at {self.sender.url}"
        return "serve HTTP at the notification URL and answer every notification; see the handler's log"

    def _acknowledge_fix(self, name: str, answer: Answer) -> str:
        if answer.location is not None:
            return "answer 200 OK at the notification URL itself: MultiSafepay does not follow redirects"
        if answer.status == 200:
            if "OK" in answer.text:
                return "put OK within the first 100 characters of the answer: a plain-text 'OK' is safest"
            if "ok" in answer.text[:100].lower():
                return "answer OK in capitals (or MULTISAFEPAY_OK): 'ok' in lower case does not count"
            return "answer with the text OK (or MULTISAFEPAY_OK) in the first 100 characters"
        kb = len(encode_body(self.orders["d"])) // 1024
        return REFUSED_FIX[name].format(key=mask_key(self.key), kb=kb, lines=CART_LINES)

    def _answer_time(self) -> dict[str, Any]:
        row = {"case": "answer_time", "expected": f"answers within {self.timeout:g} s", "passed": False, "fix": None}
        timed = [(a.ms, name) for name in MUST_ACKNOWLEDGE for a in self.answers.get(name, []) if a.status is not None]
        if not timed:
            return {**row, "got": "no answer to time", "ms": None, "fix": "make the endpoint answer the cases above"}
        ms, name = max(timed, key=lambda item: item[0] or 0)
        row.update(got=f"slowest: {name}, {ms} ms", ms=ms)
        if (ms or 0) > self.timeout * 1000:
            return {**row, "fix": "answer first (store, then OK); do slow work (e-mails, invoices) afterwards"}
        return {**row, "passed": True}

    def _final_state(self) -> dict[str, Any]:
        truth = {name: self.client.get_order(self.ids[name])["status"] for name in ("a", "b")}
        expected = f"genuine order {truth['a']}, out_of_order order {truth['b']} (as on the sandbox)"
        row = {"case": "final_state", "expected": expected, "passed": False, "fix": None, "ms": None}
        if self.stopped is not None:
            return {**row, "got": f"not asked: {self.stopped}", "fix": "make the endpoint answer the cases above"}
        views, times = {}, []
        for name in ("a", "b"):
            view, ms = self._ask_probe(self.ids[name])
            views[name] = view
            times.append(ms)
        row.update(got=f"genuine order {views['a']}, out_of_order order {views['b']}", ms=max(times))
        if views != truth:
            fix = "keep the status of the newest notification by the order's modified time, not the last to arrive"
            if any(view.startswith("probe ") for view in views.values()):
                fix = 'make the probe answer JSON {"status": ...} for ?order_id='
            return {**row, "fix": fix}
        return {**row, "passed": True}

    def _ask_probe(self, order_id: str) -> tuple[str, int]:
        start = time.perf_counter()
        try:
            response = self.sender.session.get(
                str(self.probe), params={"order_id": order_id}, timeout=self.sender.patience, allow_redirects=False
            )
            status = response.json().get("status")
        except requests.RequestException as exc:
            return f"probe {describe_error(exc, str(self.probe), self.sender.patience)}", elapsed_ms(start)
        except (ValueError, AttributeError):
            return f"probe answered {response.status_code} without JSON {{status}}", elapsed_ms(start)
        return str(status).replace(self.key, mask_key(self.key)), elapsed_ms(start)
