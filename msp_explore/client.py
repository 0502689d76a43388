"""A thin client for MultiSafepay's JSON API over one ``requests.Session``, returning plain dicts.

Usage::

    >>> client = connect()          # the embedded sandbox, unless MSP_API_KEY is set
    >>> client.create_order(order_id="order-1", currency="EUR", amount=1000, description="Test")
    {'order_id': 'order-1', 'payment_url': 'http://127.0.0.1:.../connect/.../?lang=en_US', 'session_id': '...'}
    >>> client.get_order("order-1")["status"]
    'initialized'

Every method checks the types of its arguments before sending anything (``ValidationError`` names the
field and the rule; see ``checks``) and returns the ``data`` of MultiSafepay's ``{"success": true,
"data": ...}`` envelope. The API's own rules are the API's: their answers become ``ApiError`` subclasses
(see ``errors``), naming the field as MultiSafepay does. Network errors from ``requests`` pass through.

Faults and retries
------------------
Retries are urllib3's ``Retry``, mounted on the session's adapter (see ``retries`` for the policy): GETs
are retried on network errors, 429 and 5xx; other requests only when they certainly never arrived, or
got 429. ``create_order`` adds what only the API's domain allows, because ``order_id`` makes it
checkable: when its answer is lost (reset, timeout, 5xx) it first GETs the order. If it exists with the
same amount, currency and description, that is returned as ``{"order_id", "payment_url": None,
"session_id": None, "recovered": True}`` (a direct order: the fetched order plus ``payment_url: None,
recovered: True``). The payment_url cannot be re-derived: it carries a session id only the lost answer
held. Only when the GET says 404 is the order sent again; a resend that meets "order_id already in use"
(1006) is checked the same way. MultiSafepay's order_id uniqueness backs this up: a second order with
the same id can never be created.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from . import checks, errors
from .config import DEFAULT_TIMEOUT, TEST_API, Settings, environment
from .display import OrderResult
from .errors import ApiError, NotFoundError, ValidationError
from .fetching import fetch_all
from .redaction import redact, redacted_error, scrub
from .retries import MAX_BACKOFF, retry_policy

if TYPE_CHECKING:
    from .controls import SandboxControls
    from .journal import Journal

__all__ = ["Client", "connect"]

from .embedded import connect  # noqa: E402 -- re-exported: connect() makes Clients; it lives with the sandbox it starts

logger = logging.getLogger(__name__)

IN_FLIGHT = 8  # get_orders' requests at once: each mostly waits on the network
_POOL_SIZE = 10
_LOST = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def _segment(value: Any) -> str:
    return quote(str(value), safe="")


def _never_sent(exc: BaseException) -> bool:
    """Whether a network error happened before the request could reach the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])  # urllib3's MaxRetryError wraps the cause
        return isinstance(reason, NewConnectionError)
    return False


class Client:
    """MultiSafepay's JSON API over one pooled ``requests.Session``.

    Parameters
    ----------
    api_key : the website API key; default ``MSP_API_KEY``. Sent in the ``api_key`` header, never in a URL.
    base_url : the test API by default; the sandbox's ``url``; the live API only with ``allow_live=True``.
    timeout : seconds to wait for the connection and for each read.
    journal : a ``Journal``: every request and every order received is recorded in it.
    session : a ``requests.Session`` to use (it is not closed by ``close()``); the client mounts its
        retrying adapter on it for the API's URL.
    max_attempts, retry_deadline, backoff : the retry policy (see ``retries``): at most ``max_attempts``
        attempts, no wait ending more than ``retry_deadline`` seconds after the first failure, waits
        starting at ``backoff`` seconds and doubling, with jitter.
    controls : whether ``.sandbox`` offers the sandbox's controls. Default: when ``base_url`` is on this
        machine; pass True for ``msp-explore sandbox`` on another machine, False to act as on the real API.

    Usage::

        with Client(sandbox.api_key, base_url=sandbox.url) as client:
            client.create_order(order_id="order-1", currency="EUR", amount=1000, description="Test")
            client.get_order("order-1")
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = TEST_API,
        timeout: float = DEFAULT_TIMEOUT,
        journal: Journal | None = None,
        allow_live: bool = False,
        session: requests.Session | None = None,
        max_attempts: int = 5,
        retry_deadline: float = 30.0,
        backoff: float = 0.5,
        controls: bool | None = None,
    ) -> None:
        key = checks.api_key(api_key if api_key is not None else Settings.from_env().api_key)
        base_url = checks.base_url(base_url, allow_live)
        self.timeout = checks.seconds("timeout", timeout)
        self.retry_deadline = checks.seconds("retry_deadline", retry_deadline)
        self.backoff = checks.seconds("backoff", backoff, zero=True)
        self.max_attempts = checks.count("max_attempts", max_attempts)
        self._settings = Settings(api_key=key, base_url=base_url, timeout=self.timeout)
        self.base_url = base_url
        self.environment = environment(base_url)
        self.journal = journal
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        parts = urlsplit(base_url)
        self._prefix = f"{parts.scheme}://{parts.netloc}/"
        self._retry = retry_policy(self.max_attempts, self.backoff, self.retry_deadline)
        self._adapter: HTTPAdapter | None = None
        self._pool_size = 0
        self._pool_lock = threading.Lock()
        self._ensure_pool(_POOL_SIZE)
        self._controls: SandboxControls | None = None
        self._offers_controls = self.environment == "sandbox" if controls is None else bool(controls)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the pooled connections (a session passed in stays open: it belongs to the caller)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client {self.environment} {self.base_url}>"

    def __getstate__(self) -> Any:
        raise TypeError("a Client holds an API key and cannot be pickled; create a new one instead")

    @property
    def sandbox(self) -> SandboxControls | None:
        """The controls of the sandbox this client talks to (pay, advance, reset, deliveries), over HTTP.

        None on MultiSafepay's own APIs, where paying is done by hand on the payment page. The same
        object works for ``connect()``'s embedded sandbox and for ``msp-explore sandbox`` elsewhere.
        """
        if not self._offers_controls or self.environment in ("test", "live"):
            return None
        if self._controls is None:
            from .controls import SandboxControls

            self._controls = SandboxControls(self.base_url, self._settings.api_key or "", timeout=self.timeout)
        return self._controls

    def _ensure_pool(self, size: int) -> None:
        """Mount an adapter keeping ``size`` connections to the API for reuse, so parallel requests never queue."""
        with self._pool_lock:
            old = self._adapter
            if old is not None and size <= self._pool_size:
                return
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=size, max_retries=self._retry)
            self._adapter, self._pool_size = adapter, size
            self.session.mount(self._prefix, adapter)
            if old is not None:
                old.close()  # its idle connections; one still in use is closed when it is handed back

    # -- orders ------------------------------------------------------------------------------------------
    def create_order(self, order: Mapping[str, Any] | None = None, **fields: Any) -> OrderResult:
        """Create an order from a dict and/or keyword arguments (keywords win).

        Returns ``{order_id, payment_url, session_id}`` for redirect, paymentlink and checkout orders, and
        the whole order plus ``payment_url`` for direct ones. A lost answer is recovered without creating
        the order twice; such a result has ``recovered: True`` and ``payment_url: None`` (see the module
        docstring).
        """
        if order is not None and not isinstance(order, Mapping):
            raise ValidationError("order", f"must be a dict, not {type(order).__name__}")
        body = {**(order or {}), **fields}
        checks.order(body)
        data = self._create(body)
        if "status" in data and "payment_url" in data and not data.get("recovered"):
            self._record_order(data)  # a direct order comes back whole
        return OrderResult(data)

    def get_order(self, order_id: str) -> OrderResult:
        """Get one order by the order_id it was created with."""
        return self._get_order(checks.order_id(order_id))

    def get_orders(
        self, order_ids: Iterable[str], *, max_workers: int = IN_FLIGHT, progress: bool = True
    ) -> list[OrderResult]:
        """Get many orders concurrently over the pooled connections; results come in input order.

        Parameters
        ----------
        max_workers : requests in flight at once (default 8): each mostly waits for the API's answer,
            so several overlap their round trips. Every GET is a ``get_order``, retries included.
        progress : show a ``tqdm`` progress bar (``TQDM_DISABLE=1`` in the environment also hides it).

        Raises
        ------
        ApiError, requests.RequestException
            at the first failure: orders not yet requested are skipped, the ones in flight are awaited,
            and the error of the earliest failing order (in input order) is raised, with a note naming
            it. A wrong key or an API that is down fails every order alike, so this stops at once
            instead of making a thousand failing calls. Use ``get_order`` in a loop to skip missing ones.
        """
        if isinstance(order_ids, str | bytes) or not isinstance(order_ids, Iterable):
            raise ValidationError("order_ids", "must be a list of order IDs")
        ids = list(order_ids)
        for index, order_id in enumerate(ids):
            checks.order_id(order_id, f"order_ids[{index}]")
        checks.count("max_workers", max_workers)
        if not ids:
            return []
        self._ensure_pool(max(min(max_workers, len(ids)), _POOL_SIZE))
        return fetch_all(
            self._get_order, ids, max_workers=max_workers, progress=progress, desc="get_orders", name="order_ids"
        )

    def update_order(self, order_id: str, **fields: Any) -> Any:
        """PATCH an order with the given fields (status, tracktrace_code, reason, ...)."""
        path = f"/orders/{_segment(checks.order_id(order_id))}"
        if not fields:
            raise ValidationError("fields", "give at least one field to change, like status='shipped'")
        return self._data("PATCH", path, json=fields)

    def cancel_order(self, order_id: str) -> Any:
        """Cancel an order that has not been paid (status ``cancelled``, ``exclude_order`` true)."""
        return self.update_order(order_id, status="cancelled", exclude_order=True)

    def ship_order(self, order_id: str, **fields: Any) -> Any:
        """Mark an order shipped (tracktrace_code, carrier, ship_date, invoice_id, ... as keywords)."""
        if "amount" in fields:  # a partial shipment
            checks.amount(fields["amount"])
        return self.update_order(order_id, **{**fields, "status": "shipped"})

    def refund_order(
        self,
        order_id: str,
        amount: int | None = None,
        *,
        currency: str | None = None,
        description: str | None = None,
        **fields: Any,
    ) -> Any:
        """Refund ``amount`` cents of a paid order, or all that is left without one.

        ``currency`` defaults to the order's (fetched with ``get_order``). A refund is sent once: it is
        only resent when it certainly did not arrive (see the module docstring).
        """
        path = f"/orders/{_segment(checks.order_id(order_id))}/refunds"
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = checks.amount(amount)
        if currency is not None:
            checks.text("currency", currency)
        if description is not None:
            body["description"] = checks.text("description", description)
        if currency is None:
            currency = self.get_order(order_id)["currency"]
        return self._data("POST", path, json={"currency": currency, **body, **fields})

    def capture_order(self, order_id: str, amount: int, **fields: Any) -> Any:
        """Capture ``amount`` cents of an authorised manual-capture card order."""
        path = f"/orders/{_segment(checks.order_id(order_id))}/capture"
        body = {"amount": checks.amount(amount), "new_order_status": "completed", **fields}
        return self._data("POST", path, json=body)

    def cancel_authorization(self, order_id: str, reason: str) -> Any:
        """Cancel an authorised, not yet captured card payment: the order becomes void."""
        path = f"/capture/{_segment(checks.order_id(order_id))}"
        body = {"status": "cancelled", "reason": checks.text("reason", reason)}
        return self._data("PATCH", path, json=body)

    # -- transactions, gateways, payment methods ---------------------------------------------------------
    def list_transactions(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Iterate over transactions, newest first, fetching pages lazily by following ``pager.cursor.after``.

        Filters are MultiSafepay's: ``status``, ``financial_status``, ``currency``, ``payment_method``,
        ``type``, ``created_from``/``created_until``, ``completed_from``/``completed_until``, ``limit``
        (the page size, 1 to 1000).
        """
        limit = filters.get("limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000):
            raise ValidationError("limit", "must be an integer from 1 to 1000")
        params = {key: value for key, value in filters.items() if value is not None}
        return self._pages(params)

    def _pages(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        while True:
            body = self._call("GET", "/transactions", params=params)
            page = body.get("data") or []
            yield from page
            cursor = ((body.get("pager") or {}).get("cursor") or {}).get("after")
            # The last page with data still points to an empty one; an API repeating a cursor would loop.
            if not page or not cursor or cursor in seen:
                return
            seen.add(cursor)
            params = {key: value for key, value in params.items() if key != "before"} | {"after": cursor}

    def get_transaction(self, transaction_id: str | int) -> Any:
        """Get one transaction by its ``transaction_id``."""
        if isinstance(transaction_id, bool) or not isinstance(transaction_id, str | int):
            raise ValidationError("transaction_id", "must be a string or an integer")
        checks.text("transaction_id", str(transaction_id))
        return self._data("GET", f"/transactions/{_segment(transaction_id)}")

    def list_gateways(self, **params: Any) -> Any:
        """The enabled gateways (``country=``, ``currency=``, ``include="coupons"``)."""
        return self._data("GET", "/gateways", params=params)

    def get_gateway(self, gateway_id: str) -> Any:
        """One gateway, like ``"IDEAL"`` (case-insensitive)."""
        return self._data("GET", "/gateways/" + _segment(checks.text("gateway_id", gateway_id)))

    def list_payment_methods(self, **params: Any) -> Any:
        """Payment methods with their amounts, countries, currencies and icons."""
        return self._data("GET", "/payment-methods", params=params)

    # -- plumbing ----------------------------------------------------------------------------------------
    # -- webhooks ----------------------------------------------------------------------------------------
    def verify_notification(self, body: bytes | str, auth: str | None, *, tolerance: float | None = 600) -> int:
        """Check a notification signed with this client's key (see ``webhooks.verify_notification``).

        A receiver given a client verifies this way, so the key never has to leave the client.
        """
        from .webhooks import verify_notification

        return verify_notification(body, auth, self._settings.api_key or "", tolerance=tolerance)

    # -- plumbing ----------------------------------------------------------------------------------------
    def _get_order(self, order_id: str) -> OrderResult:
        data = self._data("GET", f"/orders/{_segment(order_id)}")
        self._record_order(data)
        return OrderResult(data)

    def _record_order(self, order: Any) -> None:
        if self.journal is not None:
            self.journal.record_order(order, environment=self.environment)

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).get("data")

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None) -> Any:
        """Send a request (urllib3 retries what is safe to retry) and return the success envelope."""
        response, body = self._send(method, path, params=params, json=json)
        return self._unwrap(response, body)

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /orders; when the answer is lost, find out whether the order was made before resending."""
        deadline = time.monotonic() + self.retry_deadline
        lost = False
        for attempt in range(1, self.max_attempts + 1):
            try:
                response, parsed = self._send("POST", "/orders", json=body)
            except _LOST as exc:
                if isinstance(exc, requests.exceptions.SSLError) or _never_sent(exc):
                    raise  # never arrived, and urllib3 already tried again: nothing to recover
                lost, why, result, failure = True, type(exc).__name__, None, exc
            else:
                if response.status_code < 500:
                    try:
                        return self._unwrap(response, parsed).get("data") or {}  # type: ignore[no-any-return]
                    except ApiError as exc:
                        # "order_id already in use" after a lost attempt: maybe that attempt made it.
                        if not (lost and exc.error_code == 1006 and exc.status_code != 404):
                            raise
                        found = self._find_created(body, "order_id already in use")
                        if found is None:
                            raise
                        return found
                lost, why, result, failure = True, f"HTTP {response.status_code}", (response, parsed), None
            found = self._find_created(body, why)
            if found is not None:
                return found
            delay = min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            if attempt == self.max_attempts or time.monotonic() + delay > deadline:
                if failure is not None:
                    raise failure
                assert result is not None
                return self._unwrap(*result).get("data") or {}  # type: ignore[no-any-return]
            logger.info("create_order %r: %s, and no such order yet; sending it again", body["order_id"], why)
            time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    def _find_created(self, body: dict[str, Any], why: str) -> dict[str, Any] | None:
        """After a lost create answer: the recovered result if our order exists, None if it does not."""
        order_id = body["order_id"]
        try:
            order = self._get_order(order_id)
        except NotFoundError:
            logger.info(
                "create_order %r: answer lost (%s) and the order does not exist; sending it again", order_id, why
            )
            return None
        except (ApiError, *_LOST):
            logger.warning("create_order %r: answer lost (%s) and the check failed; it may exist", order_id, why)
            raise
        ours = (order.get("amount"), str(order.get("currency")).upper(), order.get("description"))
        if ours != (body["amount"], str(body["currency"]).upper(), body["description"]):
            return None  # someone else's order: sending ours gets the API's own "already in use" answer
        logger.warning(
            "create_order %r: answer lost (%s) but the order was created; its payment_url is unknown", order_id, why
        )
        if body.get("type") == "direct":
            return {**order, "payment_url": None, "recovered": True}
        return {"order_id": order["order_id"], "payment_url": None, "session_id": None, "recovered": True}

    def _send(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> tuple[requests.Response, Any]:
        """One request, urllib3's retries included: the response and its parsed JSON body (None if not JSON)."""
        shown = f"{path}?{urlencode(params, doseq=True)}" if params else path
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                headers=self._headers(),
                timeout=self.timeout,
                # requests keeps custom headers on a redirect to another host; never follow one.
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            duration = (time.perf_counter() - started) * 1000
            logger.debug("%s %s -> %s after %.1f ms", method, shown, type(exc).__name__, duration)
            self._record_request(method, shown, json, None, duration, None)
            scrub(exc.request if isinstance(exc.request, requests.PreparedRequest) else None)
            safe = redacted_error(exc, self._settings.api_key or "")
            if safe is None:
                raise
            raise safe from None
        duration = (time.perf_counter() - started) * 1000
        scrub(response.request)
        scrub(response.next)  # the redirect not followed: requests copied the headers, key included
        try:
            body = response.json()
        except ValueError:
            body = None
        error_code = body.get("error_code") if isinstance(body, dict) else None
        logger.debug("%s %s -> %d in %.1f ms", method, shown, response.status_code, duration)
        self._record_request(
            method, shown, json, response.status_code, duration, error_code if isinstance(error_code, int) else None
        )
        return response, body

    def _headers(self) -> dict[str, str]:
        # The key goes in a header: URLs end up in logs, error messages and proxies.
        return {"api_key": self._settings.api_key or "", "Accept": "application/json"}

    def _record_request(
        self, method: str, path: str, body: Any, status: int | None, duration: float, error_code: int | None
    ) -> None:
        if self.journal is not None:
            self.journal.record_request(
                method, path, status_code=status, body=body, duration_ms=round(duration, 3),
                error_code=error_code, environment=self.environment,
            )  # fmt: skip

    def _unwrap(self, response: requests.Response, body: Any) -> dict[str, Any]:
        if 200 <= response.status_code < 300 and isinstance(body, dict) and body.get("success") is True:
            return body
        if not isinstance(body, dict) or not body.keys() & {"error_code", "error_info", "message"}:
            # A proxy's HTML error page, an empty body, or JSON without the envelope: say what came,
            # never quote it (an error page may echo the request, headers included).
            kind = (response.headers.get("Content-Type") or "no content type").split(";")[0].strip()[:60]
            reason = (response.reason or "Response")[:60]
            what = "body is not JSON" if body is None else "body is not a MultiSafepay envelope"
            body = {"error_info": f"{reason}: {what} ({kind})"}
        else:
            key = self._settings.api_key or ""
            body = {name: redact(value, key) if isinstance(value, str) else value for name, value in body.items()}
        raise errors.api_error(response.status_code, body, response)
