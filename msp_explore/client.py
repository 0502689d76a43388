"""A thin client for MultiSafepay's JSON API over one ``requests.Session``, returning plain dicts.

Usage::

    >>> client = connect()          # the embedded sandbox, unless MSP_API_KEY is set
    >>> client.create_order(order_id="order-1", currency="EUR", amount=1000, description="Test")
    {'order_id': 'order-1', 'payment_url': 'http://127.0.0.1:.../connect/.../?lang=en_US', 'session_id': '...'}
    >>> client.get_order("order-1")["status"]
    'initialized'

Every method checks its arguments before sending anything (``ValidationError`` names the field and the
rule) and returns the ``data`` of MultiSafepay's ``{"success": true, "data": ...}`` envelope. Error answers
become ``ApiError`` subclasses (see ``errors``); network errors from ``requests`` pass through.

Faults and retries
------------------
* GET requests are retried on connection errors, timeouts, 429 and 500/502/503/504, with exponential
  backoff and jitter (``backoff``, doubling, at most 8 s) or the server's ``Retry-After``, for at most
  ``max_attempts`` attempts and ``retry_deadline`` seconds in all, first attempt included. A wait that
  would end past the deadline is not started: the last error is raised at once.
* Every other request (POST, PATCH) is retried only when it provably never reached the API: the
  connection was refused or could not be opened in time, or the answer was 429. After a reset, a
  timeout or a 5xx it may have taken effect, so resending could refund twice, or turn a cancel that
  worked into a "cannot be cancelled" error. The error is raised instead; check with ``get_order``.
* ``create_order`` is the exception, because ``order_id`` makes it checkable: when its answer is lost
  (reset, timeout, 5xx) it first GETs the order. If it exists with the same amount, currency and
  description, that is returned as ``{"order_id", "payment_url": None, "session_id": None,
  "recovered": True}`` (a direct order: the fetched order plus ``payment_url: None, recovered: True``).
  The payment_url cannot be re-derived: it carries a session id only the lost answer held. Only
  when the GET says 404 is the order sent again; a resend that meets "order_id already in use"
  (1006) is checked the same way. MultiSafepay's order_id uniqueness backs this up: a second order
  with the same id can never be created.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    NameResolutionError,
    NewConnectionError,
)

from . import errors
from ._batch import Answer, Batch, in_flight, prepare_batch, succeeded
from .config import DEFAULT_TIMEOUT, TEST_API, Settings, environment
from .display import OrderResult
from .errors import ApiError, NotFoundError, ValidationError

if TYPE_CHECKING:

    from .journal import Journal
    from .sandbox import Sandbox

__all__ = ["Client", "connect"]

logger = logging.getLogger(__name__)

ORDER_TYPES = ("redirect", "direct", "paymentlink", "checkout")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF = 8.0
_POOL_SIZE = 10
_PROGRESS_INTERVAL = 0.1  # seconds between updates of get_orders' progress bar
_REDACTED = "[redacted]"
_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_OBJECT_FIELDS = (
    "customer", "delivery", "payment_options", "gateway_info", "custom_info", "shopping_cart",
    "checkout_options", "second_chance", "plugin",
)  # fmt: skip


# -- argument checks: one small function per rule, all raising ValidationError(field, rule) ----------------
def _text(field: str, value: Any, *, max_len: int) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(field, "is required")
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, not {type(value).__name__}")
    if len(value) > max_len:
        raise ValidationError(field, f"must be at most {max_len} characters (got {len(value)})")
    return value


def _order_id(value: Any, field: str = "order_id") -> str:
    _text(field, value, max_len=50)
    if value in (".", ".."):  # URL normalisation would turn /orders/.. into a different path
        raise ValidationError(field, "cannot be '.' or '..'")
    return str(value)


def _amount(value: Any, field: str = "amount") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            field, f"must be a positive integer amount in cents (1000 = 10.00), not {type(value).__name__}"
        )
    if value < 1:
        raise ValidationError(field, f"must be a positive integer amount in cents (1000 = 10.00), not {value}")
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isascii() or not value.isalpha():
        raise ValidationError("currency", "must be a 3-letter ISO 4217 code like EUR")
    return value


def _check_order(body: Mapping[str, Any]) -> None:
    kind = body.get("type", "redirect")
    if kind not in ORDER_TYPES:
        raise ValidationError("type", f"must be one of {', '.join(ORDER_TYPES)}")
    _order_id(body.get("order_id"))
    _amount(body.get("amount"))
    _currency(body.get("currency"))
    _text("description", body.get("description"), max_len=200)
    if kind == "direct" and not body.get("gateway"):
        raise ValidationError("gateway", "is required for a direct order")
    for field in _OBJECT_FIELDS:
        if body.get(field) is not None and not isinstance(body[field], Mapping):
            raise ValidationError(field, f"must be a dict, not {type(body[field]).__name__}")


def _check_key(api_key: Any) -> str:
    if api_key is not None and not isinstance(api_key, str):
        raise ValidationError("api_key", f"must be a string, not {type(api_key).__name__}")
    key = (api_key or "").strip()
    if not key:
        raise ValidationError(
            "api_key", "is required: pass Client(api_key=...), set MSP_API_KEY, or use connect() for the sandbox"
        )
    # requests would reject such a header with an error message that quotes the whole value.
    if not key.isascii() or not key.isprintable() or " " in key:
        raise ValidationError("api_key", "must be printable ASCII without spaces")
    return key


def _check_base_url(base_url: Any, allow_live: bool) -> str:
    if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
        raise ValidationError("base_url", "must be an http(s) URL like " + TEST_API)
    if not urlsplit(base_url).hostname:
        raise ValidationError("base_url", "must be an http(s) URL like " + TEST_API)
    if environment(base_url) == "live" and not allow_live:
        raise ValidationError(
            "base_url", "is the live API, where payments are real; pass allow_live=True if you mean it"
        )
    return base_url.rstrip("/")


def _segment(value: Any) -> str:
    return quote(str(value), safe="")


# -- faults ------------------------------------------------------------------------------------------------
def _never_sent(exc: BaseException) -> bool:
    """Whether a network error happened before the request could reach the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])  # urllib3's MaxRetryError wraps the cause
        return isinstance(reason, NewConnectionError)
    return False


def _retryable(exc: BaseException, idempotent: bool) -> bool:
    if isinstance(exc, requests.exceptions.SSLError):
        return False  # a certificate problem does not go away by asking again
    if _never_sent(exc):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return not isinstance(reason, NameResolutionError)  # a misspelt host neither
    return idempotent


def _retry_after(response: requests.Response | Answer) -> float | None:
    """The ``Retry-After`` header in seconds (it may also be an HTTP date), or None."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _scrub(prepared: requests.PreparedRequest | None) -> None:
    # The request that errors and responses keep a reference to no longer needs the key.
    if prepared is not None and "api_key" in prepared.headers:
        prepared.headers["api_key"] = _REDACTED


class Client:
    """MultiSafepay's JSON API over one pooled ``requests.Session``.

    Parameters
    ----------
    api_key : the website API key; default ``MSP_API_KEY``. Sent in the ``api_key`` header, never in a URL.
    base_url : the test API by default; the sandbox's ``url``; the live API only with ``allow_live=True``.
    timeout : seconds to wait for the connection and for each read.
    journal : a ``Journal``: every request and every order received is recorded in it.
    session : a ``requests.Session`` to use (it is not closed by ``close()``).
    max_attempts, retry_deadline, backoff : the retry policy (see the module docstring): at most
        ``max_attempts`` attempts within ``retry_deadline`` seconds, waiting ``backoff`` seconds
        (doubling, with jitter) between them.

    Usage::

        with Client(sandbox.api_key, base_url=sandbox.url) as client:
            client.create_order(order_id="order-1", currency="EUR", amount=1000, description="Test")
            client.get_order("order-1")
    """

    sandbox: Sandbox | None

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
    ) -> None:
        key = _check_key(api_key if api_key is not None else os.environ.get("MSP_API_KEY"))
        base_url = _check_base_url(base_url, allow_live)
        for field, value, low in (("timeout", timeout, 0), ("retry_deadline", retry_deadline, 0)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= low:
                raise ValidationError(field, "must be a positive number of seconds")
        if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 0:
            raise ValidationError("backoff", "must be zero or a positive number of seconds")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValidationError("max_attempts", "must be an integer of at least 1")
        self._settings = Settings(api_key=key, base_url=base_url, timeout=float(timeout))
        self.base_url = base_url
        self.timeout = float(timeout)
        self.environment = environment(base_url)
        self.journal = journal
        self.sandbox = None
        self.max_attempts = max_attempts
        self.retry_deadline = float(retry_deadline)
        self.backoff = float(backoff)
        self._sleep: Callable[[float], None] = time.sleep
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        parts = urlsplit(base_url)
        self._prefix = f"{parts.scheme}://{parts.netloc}/"
        self._adapter: HTTPAdapter | None = None
        self._pool_size = 0
        self._pool_lock = threading.Lock()
        if self._owns_session:  # a session passed in keeps its own adapters until get_orders needs more
            self._ensure_pool(_POOL_SIZE)

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

    def _ensure_pool(self, size: int) -> None:
        """Mount an adapter keeping ``size`` connections to the API for reuse, so parallel requests never queue."""
        with self._pool_lock:
            old = self._adapter
            if old is not None and size <= self._pool_size:
                return
            self._adapter, self._pool_size = HTTPAdapter(pool_connections=1, pool_maxsize=size), size
            self.session.mount(self._prefix, self._adapter)
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
        _check_order(body)
        data = self._create(body)
        if "status" in data and "payment_url" in data and not data.get("recovered"):
            self._record_order(data)  # a direct order comes back whole
        return OrderResult(data)

    def get_order(self, order_id: str) -> OrderResult:
        """Get one order by the order_id it was created with."""
        return self._get_order(_order_id(order_id))

    def get_orders(
        self, order_ids: Iterable[str], *, max_workers: int | None = None, progress: bool = True
    ) -> list[OrderResult]:
        """Get many orders concurrently over the pooled connections; results come in input order.

        What ``requests`` works out for every call (settings, proxies, the connection pool) is worked out
        once for the batch, and each GET goes straight to the session's pool: it takes under half the
        CPU of a ``get_order``. A session with its own auth, hooks, cookies, proxy or a mocked adapter gets
        every GET through ``Session.request`` as usual.

        Parameters
        ----------
        max_workers : requests in flight at once. By default 8 for an API elsewhere, where each request
            mostly waits on the network; 4 for a server on this machine, where there is no network to
            wait on and client and server only need a CPU each; 1 for a sandbox served from this very
            process (``connect()``'s), whose threads share one interpreter lock with the client's, so
            that more requests in flight would only take turns.
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
            _order_id(order_id, f"order_ids[{index}]")
        if max_workers is None:
            max_workers = in_flight(self.base_url)
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValidationError("max_workers", "must be an integer of at least 1")
        if not ids:
            return []
        from tqdm.auto import tqdm  # lazily: only this method needs it

        workers = min(max_workers, len(ids))
        self._ensure_pool(max(workers, _POOL_SIZE))
        batch = self._batch()
        results: list[OrderResult | None] = [None] * len(ids)
        # Each worker takes the next order in input order until none is left or one has failed: no
        # future per order, and the first failure stops the others from starting new requests.
        positions, taking = itertools.count(), threading.Lock()
        stop = threading.Event()
        fetched = [0] * workers  # per worker, so that counting needs no lock
        failed_at: dict[int, int] = {}  # worker -> the order it failed on; its future holds the error

        def fetch(worker: int) -> None:
            while not stop.is_set():
                with taking:
                    index = next(positions)
                if index >= len(ids):
                    return
                try:
                    results[index] = self._get_order(ids[index], batch=batch)
                except BaseException:
                    failed_at[worker] = index
                    stop.set()
                    raise
                fetched[worker] += 1

        # Passing disable=False would override TQDM_DISABLE, so pass it only to switch the bar off.
        bar = tqdm(total=len(ids), desc="get_orders", unit="order", **({} if progress else {"disable": True}))
        with bar, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="msp-get-orders") as pool:
            futures = [pool.submit(fetch, worker) for worker in range(workers)]
            shown = 0
            try:
                while True:  # the bar moves in steps, a few times a second, not once per order
                    finished, _ = wait(futures, timeout=_PROGRESS_INTERVAL)
                    done = sum(fetched)
                    bar.update(done - shown)
                    shown = done
                    if len(finished) == len(futures):
                        break
            except BaseException:  # Ctrl-C in a notebook: finish the requests in flight, start no more
                stop.set()
                raise
        failures = [(failed_at[w], f.exception()) for w, f in enumerate(futures) if f.exception() is not None]
        if failures:
            index, exc = min(failures, key=lambda failure: failure[0])
            assert exc is not None
            if hasattr(exc, "add_note"):  # Python 3.11+
                done = sum(result is not None for result in results)
                exc.add_note(
                    f"get_orders stopped at order_ids[{index}] = {ids[index]!r} ({done} of {len(ids)} orders fetched)"
                )
            raise exc
        return results  # type: ignore[return-value]

    def update_order(self, order_id: str, **fields: Any) -> Any:
        """PATCH an order with the given fields (status, tracktrace_code, reason, ...)."""
        path = f"/orders/{_segment(_order_id(order_id))}"
        if not fields:
            raise ValidationError("fields", "give at least one field to change, like status='shipped'")
        return self._data("PATCH", path, json=fields)

    def cancel_order(self, order_id: str) -> Any:
        """Cancel an order that has not been paid (status ``cancelled``, ``exclude_order`` true)."""
        return self.update_order(order_id, status="cancelled", exclude_order=True)

    def ship_order(self, order_id: str, **fields: Any) -> Any:
        """Mark an order shipped (tracktrace_code, carrier, ship_date, invoice_id, ... as keywords)."""
        if "amount" in fields:  # a partial shipment
            _amount(fields["amount"])
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
        path = f"/orders/{_segment(_order_id(order_id))}/refunds"
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = _amount(amount)
        if currency is not None:
            _currency(currency)
        if description is not None:
            body["description"] = _text("description", description, max_len=200)
        if currency is None:
            currency = self.get_order(order_id)["currency"]
        return self._data("POST", path, json={"currency": currency, **body, **fields})

    def capture_order(self, order_id: str, amount: int, **fields: Any) -> Any:
        """Capture ``amount`` cents of an authorised manual-capture card order."""
        path = f"/orders/{_segment(_order_id(order_id))}/capture"
        body = {"amount": _amount(amount), "new_order_status": "completed", **fields}
        return self._data("POST", path, json=body)

    def cancel_authorization(self, order_id: str, reason: str) -> Any:
        """Cancel an authorised, not yet captured card payment: the order becomes void."""
        path = f"/capture/{_segment(_order_id(order_id))}"
        body = {"status": "cancelled", "reason": _text("reason", reason, max_len=200)}
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
        _text("transaction_id", str(transaction_id), max_len=50)
        return self._data("GET", f"/transactions/{_segment(transaction_id)}")

    def list_gateways(self, **params: Any) -> Any:
        """The enabled gateways (``country=``, ``currency=``, ``include="coupons"``)."""
        return self._data("GET", "/gateways", params=params)

    def get_gateway(self, gateway_id: str) -> Any:
        """One gateway, like ``"IDEAL"`` (case-insensitive)."""
        return self._data("GET", f"/gateways/{_segment(_text('gateway_id', gateway_id, max_len=50))}")

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

    def _get_order(self, order_id: str, deadline: float | None = None, batch: Batch | None = None) -> OrderResult:
        data = self._data("GET", f"/orders/{_segment(order_id)}", deadline=deadline, batch=batch)
        self._record_order(data)
        return OrderResult(data)

    def _record_order(self, order: Any) -> None:
        if self.journal is not None:
            self.journal.record_order(order, environment=self.environment)

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).get("data")

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        deadline: float | None = None,
        batch: Batch | None = None,
    ) -> dict[str, Any]:
        """Send a request, retrying what is safe to retry, and return the success envelope."""
        deadline = deadline if deadline is not None else time.monotonic() + self.retry_deadline
        idempotent = method == "GET"
        attempt = 0
        while True:
            attempt += 1
            try:
                response, body = self._send(method, path, params=params, json=json, deadline=deadline, batch=batch)
            except _NETWORK_ERRORS as exc:
                if not (_retryable(exc, idempotent) and self._pause(attempt, deadline, None, method, path, exc)):
                    raise
                continue
            status = response.status_code
            if (
                status in RETRY_STATUSES
                and (idempotent or status == 429)
                and self._pause(attempt, deadline, _retry_after(response), method, path, status)
            ):
                continue
            return self._unwrap(response, body)

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.retry_deadline
        attempt, lost = 0, False
        while True:
            attempt += 1
            try:
                response, parsed = self._send("POST", "/orders", json=body, deadline=deadline)
            except _NETWORK_ERRORS as exc:
                if isinstance(exc, requests.exceptions.SSLError):
                    raise
                if not _never_sent(exc):
                    lost = True
                    found = self._find_created(body, deadline, type(exc).__name__)
                    if found is not None:
                        return found
                elif not _retryable(exc, idempotent=False):
                    raise  # a misspelt host
                if not self._pause(attempt, deadline, None, "POST", "/orders", exc):
                    raise
                continue
            status = response.status_code
            if status in RETRY_STATUSES:
                if status != 429:  # a 5xx may come after the order was made
                    lost = True
                    found = self._find_created(body, deadline, f"HTTP {status}")
                    if found is not None:
                        return found
                if self._pause(attempt, deadline, _retry_after(response), "POST", "/orders", status):
                    continue
            try:
                return self._unwrap(response, parsed).get("data") or {}
            except ApiError as exc:
                # "order_id already in use" after a lost attempt: maybe that attempt is the one that made it.
                if lost and exc.error_code == 1006 and exc.status_code != 404:
                    found = self._find_created(body, deadline, "order_id already in use")
                    if found is not None:
                        return found
                raise

    def _find_created(self, body: dict[str, Any], deadline: float, why: str) -> dict[str, Any] | None:
        """After a lost create answer: the recovered result if our order exists, None if it does not."""
        order_id = body["order_id"]
        try:
            order = self._get_order(order_id, deadline)
        except NotFoundError:
            logger.info(
                "create_order %r: answer lost (%s) and the order does not exist; sending it again", order_id, why
            )
            return None
        except (ApiError, *_NETWORK_ERRORS):
            logger.warning("create_order %r: answer lost (%s) and the check failed; it may exist", order_id, why)
            raise
        ours = (order.get("amount"), str(order.get("currency")).upper(), order.get("description"))
        if ours != (body["amount"], body["currency"].upper(), body["description"]):
            return None  # someone else's order: sending ours gets the API's own "already in use" answer
        logger.warning(
            "create_order %r: answer lost (%s) but the order was created; its payment_url is unknown", order_id, why
        )
        if body.get("type") == "direct":
            return {**order, "payment_url": None, "recovered": True}
        return {"order_id": order["order_id"], "payment_url": None, "session_id": None, "recovered": True}

    def _pause(
        self, attempt: int, deadline: float, retry_after: float | None, method: str, path: str, cause: Any
    ) -> bool:
        """Wait before the next attempt and return True, or return False if no attempt is left in time."""
        if attempt >= self.max_attempts:
            return False
        if retry_after is not None:
            delay = retry_after
        else:
            delay = min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        if time.monotonic() + delay >= deadline:
            return False
        what = type(cause).__name__ if isinstance(cause, BaseException) else f"HTTP {cause}"
        logger.info(
            "%s %s: %s; retrying in %.2f s (attempt %d of %d)",
            method, path, what, delay, attempt + 1, self.max_attempts,
        )  # fmt: skip
        self._sleep(delay)
        return True

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        deadline: float,
        batch: Batch | None = None,
    ) -> tuple[requests.Response | Answer, Any]:
        """One attempt: returns the response and its parsed JSON body (None if it is not JSON).

        ``batch`` (a GET without params, from ``get_orders``) sends it the prepared way; everything
        else here (timeout, errors, logging, journal, parsing) is the same for both ways.
        """
        shown = f"{path}?{urlencode(params, doseq=True)}" if params else path
        timeout = min(self.timeout, max(deadline - time.monotonic(), 0.01))
        started = time.perf_counter()
        try:
            if batch is not None and batch.usable():
                response = batch.get(path, timeout)
            else:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    headers=self._headers(),
                    timeout=timeout,
                    # requests keeps custom headers on a redirect to another host; never follow one.
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            duration = (time.perf_counter() - started) * 1000
            logger.debug("%s %s -> %s after %.1f ms", method, shown, type(exc).__name__, duration)
            self._record_request(method, shown, json, None, duration, None)
            _scrub(exc.request if isinstance(exc.request, requests.PreparedRequest) else None)
            safe = self._redacted(exc)
            if safe is None:
                raise
            raise safe from None
        duration = (time.perf_counter() - started) * 1000
        _scrub(response.request)
        _scrub(response.next)  # the redirect not followed: requests copied the headers, key included
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

    def _batch(self) -> Batch | None:
        return prepare_batch(self.session, self.base_url, self._headers())

    def _record_request(
        self, method: str, path: str, body: Any, status: int | None, duration: float, error_code: int | None
    ) -> None:
        if self.journal is not None:
            self.journal.record_request(
                method, path, status_code=status, body=body, duration_ms=round(duration, 3),
                error_code=error_code, environment=self.environment,
            )  # fmt: skip

    def _unwrap(self, response: requests.Response | Answer, body: Any) -> dict[str, Any]:
        if succeeded(body, response.status_code):
            return body
        if not isinstance(body, dict) or not body.keys() & {"error_code", "error_info", "message"}:
            # A proxy's HTML error page, an empty body, or JSON without the envelope: say what came,
            # never quote it (an error page may echo the request, headers included).
            kind = (response.headers.get("Content-Type") or "no content type").split(";")[0].strip()[:60]
            reason = (response.reason or "Response")[:60]
            what = "body is not JSON" if body is None else "body is not a MultiSafepay envelope"
            body = {"error_info": f"{reason}: {what} ({kind})"}
        else:
            body = {key: self._redact(value) if isinstance(value, str) else value for key, value in body.items()}
        raise errors.api_error(response.status_code, body, response)

    # -- secrets -----------------------------------------------------------------------------------------
    def _secrets(self) -> tuple[str, ...]:
        key = self._settings.api_key or ""
        return tuple({key, quote(key, safe=""), quote_plus(key)} - {""})

    def _redact(self, text: str) -> str:
        for secret in self._secrets():
            text = text.replace(secret, _REDACTED)
        return text

    def _redacted(self, exc: requests.RequestException) -> requests.RequestException | None:
        """A copy of ``exc`` without the key if its message (or a chained one) shows it, else None.

        The key never goes into a URL, so this should never find anything; it is a second lock.
        """
        chained: BaseException | None = exc
        seen: set[int] = set()
        while chained is not None and id(chained) not in seen:
            seen.add(id(chained))
            if any(secret in f"{chained!s} {chained!r}" for secret in self._secrets()):
                return type(exc)(self._redact(str(exc)), response=exc.response)
            chained = chained.__cause__ or chained.__context__
        return None


# -- connect(): the sandbox or the real test API ------------------------------------------------------------
_sandbox: Sandbox | None = None
_sandbox_lock = threading.Lock()


def _shared_sandbox(seed: int | None) -> Sandbox:
    """The one embedded sandbox of this process, started on first use."""
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None:
            from .sandbox import Sandbox

            # notifications arrive before pay() returns: a notebook shows them in the very next cell
            _sandbox = Sandbox(seed=seed, sync_notifications=True).start()
        elif _sandbox.seed != seed:
            raise ValidationError(
                "seed",
                f"this process's sandbox already runs with seed={_sandbox.seed}; "
                f"pass that seed, or start your own Sandbox(seed={seed})",
            )
        return _sandbox


def connect(*, seed: int | None = 0, journal: Journal | None = None, **kwargs: Any) -> Client:
    """A Client for MultiSafepay's test API if ``MSP_API_KEY`` is set, else for the embedded sandbox.

    With a key, ``MSP_BASE_URL`` may point elsewhere (the live API still needs ``allow_live=True``).
    Without one, the process's sandbox (started on first use, seeded with ``seed``) serves the client;
    ``client.sandbox`` gives it, and is None for the real API. Other keywords go to ``Client``.

    Usage::

        >>> client = connect()
        >>> client
        <Client sandbox http://127.0.0.1:54321/v1/json>
    """
    settings = Settings.from_env()
    api_key = kwargs.pop("api_key", None) or settings.api_key
    if api_key:
        kwargs.setdefault("base_url", settings.base_url)
        return Client(api_key, journal=journal, **kwargs)
    if "base_url" in kwargs:
        raise ValidationError("api_key", "is required with a base_url: set MSP_API_KEY, or leave base_url out")
    sandbox = _shared_sandbox(seed)
    client = Client(sandbox.api_key, base_url=sandbox.url, journal=journal, **kwargs)
    client.sandbox = sandbox
    return client
