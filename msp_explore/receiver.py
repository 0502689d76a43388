"""Receive MultiSafepay webhook notifications on this machine: verify, store, then acknowledge.

A notification is acknowledged with ``OK`` only after it is stored, so one that could not be stored
is retried by MultiSafepay (or the sandbox) and never lost. Forged, stale, malformed, oversized and
non-JSON notifications are stored as rejected and answered with a 4xx.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._server import BackgroundServer
from .errors import MspError, SignatureError
from .journal import Journal
from .webhooks import DEFAULT_TOLERANCE, verify_notification

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

KEEP_RAW = 1000  # notifications kept as received, in memory, for ``received()``
MAX_BODY = 1024 * 1024  # a real order is a few kB; anything this big is not a notification
Callback = Callable[[dict[str, Any]], None]
_COLUMNS = ["order_id", "status", "financial_status", "verified", "duplicate", "reason", "method",
            "received_at", "timestamp", "id"]  # fmt: skip


class WebhookReceiver:
    """A local HTTP endpoint for MultiSafepay notifications (POST, and GET-style pings).

    Usage::

        with WebhookReceiver(client=client, journal=journal) as receiver:
            client.create_order(..., payment_options={"notification_url": receiver.url})
            receiver.wait_for("order-1", status="completed")

    Parameters
    ----------
    api_key : the key notifications are signed with; default: the client's key, ``MSP_API_KEY``, or the
        sandbox's default key. Signatures are checked against this machine's wall clock, as a merchant's
        own handler does.
    client : verifies with its key when no ``api_key`` is given, and fetches the order when a GET
        notification arrives (it carries no body).
    public_url : the URL MultiSafepay should call when this receiver is exposed through a tunnel.
    path : the path shown in ``url``. Notifications are taken on any path of this host and port, since
        MultiSafepay posts to whatever URL the merchant set and a tunnel may rewrite the path.
    tolerance : how old (seconds) a notification's timestamp may be; ``None`` disables the check.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        journal: Journal | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        path: str = "/webhook",
        client: Any = None,
        tolerance: float | None = DEFAULT_TOLERANCE,
        environment: str | None = None,
    ) -> None:
        from .config import Settings
        from .sandbox import DEFAULT_API_KEY

        if api_key is None and client is not None:
            self._verify: Callable[..., int] = client.verify_notification
        else:
            key = api_key or Settings.from_env().api_key or DEFAULT_API_KEY
            self._verify = functools.partial(verify_notification, api_key=key)
        # Without a journal of the caller's, one in memory: what counts as a duplicate is the journal's
        # rule either way, and the records look the same.
        self.journal = journal if journal is not None else Journal(":memory:")
        self.client = client
        self.public_url = public_url
        self.path = "/" + path.lstrip("/")
        self.tolerance = tolerance
        self.environment = environment or getattr(client, "environment", None) or "sandbox"
        self._records: list[dict[str, Any]] = []
        self._raw: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEEP_RAW)
        self._callbacks: list[Callback] = []
        self._cond = threading.Condition()
        self.server = BackgroundServer(self._make_app(), host=host, port=port)

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> WebhookReceiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The notification URL to put in ``payment_options.notification_url``."""
        return self.public_url or self.server.url_for(self.path)

    def __repr__(self) -> str:
        return f"<WebhookReceiver {self.url} notifications={len(self._records)}>"

    # -- what users read ------------------------------------------------------------------------------
    def on_notification(self, callback: Callback) -> Callback:
        """Call ``callback(record)`` for every notification received (in the server's thread)."""
        self._callbacks.append(callback)
        return callback

    def received(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """The latest notifications exactly as they came in: ``method``, ``query``, ``headers`` and raw ``body``.

        Kept in memory only (the journal never stores the ``Auth`` header), for the last ``KEEP_RAW``.
        """
        with self._cond:
            raw = list(self._raw)
        return [r for r in raw if order_id is None or r["query"].get("transactionid") == order_id]

    @property
    def records(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._records)

    @property
    def notifications(self) -> pd.DataFrame:
        """Every notification this receiver got: one row each, rejected and duplicate ones included."""
        import pandas as pd

        frame = pd.DataFrame(self.records, columns=_COLUMNS)
        frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True)
        return frame.astype({"verified": bool, "duplicate": bool})

    def wait_for(self, order_id: str, status: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for a verified notification about ``order_id`` (with ``status``, if given) and return it."""
        deadline = time.monotonic() + timeout

        def match() -> dict[str, Any] | None:
            for record in reversed(self._records):
                if record["verified"] and record["order_id"] == order_id and status in (None, record["status"]):
                    return record
            return None

        with self._cond:
            while (found := match()) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    wanted = f" with status {status}" if status else ""
                    raise TimeoutError(f"no verified notification for {order_id}{wanted} within {timeout} s")
                self._cond.wait(remaining)
        return found

    # -- the endpoint -----------------------------------------------------------------------------------
    def _make_app(self) -> Any:
        from flask import Flask, Response, request

        app = Flask(__name__)
        app.url_map.merge_slashes = False  # "//hook" is a path like any other, never a redirect

        @app.route("/", defaults={"path": ""}, methods=["POST", "GET"])
        @app.route("/<path:path>", methods=["POST", "GET"])
        def notification(path: str) -> Response:
            raw = request.stream.read(MAX_BODY + 1) if request.method == "POST" else b""
            status, text = self.handle(request.method, raw, request.args.to_dict(), dict(request.headers))
            return Response(text, status=status, mimetype="text/plain")

        return app

    def handle(self, method: str, raw: bytes, query: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """Verify, store and answer one notification; returns the HTTP status and body to send."""
        order_id = query.get("transactionid")
        with self._cond:
            self._raw.append({"method": method, "query": _without_secrets(query), "headers": _without_secrets(headers),
                              "body": raw})  # fmt: skip
        body: bytes | str = raw
        parsed: Any = None  # the body as a JSON object, once; the journal need not parse it again
        verified, reason, status = True, None, 200
        if method == "GET":
            body, reason = self._fetch(order_id)
            verified = reason is None
            # Never 200 for a failure: MultiSafepay only retries what is not acknowledged, and a 200
            # whose reason happened to contain "OK" would count as acknowledged.
            status = 400 if not order_id else 502
        elif len(raw) > MAX_BODY:
            body, verified, reason, status = raw[:MAX_BODY], False, f"body larger than {MAX_BODY} bytes", 413
        else:
            try:
                self._verify(raw, headers.get("Auth"), tolerance=self.tolerance)
            except SignatureError as exc:
                verified, reason, status = False, f"{exc.reason}: {exc}", 403
            try:
                parsed = json.loads(raw)
                if not isinstance(parsed, dict):
                    raise ValueError
            except ValueError:
                parsed, verified, reason, status = None, False, "body is not a JSON object", 400
        try:
            record = self._store(method, order_id, body, query, headers, verified, reason, parsed)
        except (MspError, OSError, ValueError, sqlite3.Error) as exc:
            # Not stored, so not acknowledged: the sender retries and nothing is lost.
            logger.error("could not store a notification for %s: %s", order_id, exc)
            return 503, "storage failed; retry later"
        for callback in list(self._callbacks):
            try:
                callback(record)
            except Exception:  # a widget's bug must not turn an acknowledged notification into an error
                logger.exception("notification callback %r failed", callback)
        return (200, "OK") if verified else (status, reason or "rejected")

    def _fetch(self, order_id: str | None) -> tuple[str | None, str | None]:
        if not order_id:
            return None, "GET notification without transactionid"
        if self.client is None:
            return None, "GET notification, and no client to fetch the order with"
        try:
            return json.dumps(self.client.get_order(order_id)), None
        except (MspError, OSError) as exc:  # OSError includes requests' network errors
            return None, f"could not fetch the order: {exc}"

    def _store(
        self,
        method: str,
        order_id: str | None,
        body: bytes | str | None,
        query: dict[str, str],
        headers: dict[str, str],
        verified: bool,
        reason: str | None,
        parsed: Any = None,
    ) -> dict[str, Any]:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        row = self.journal.record_notification(
            order_id=order_id,
            body=text,
            query=query,
            headers=headers,
            method=method,
            verified=verified,
            reason=reason,
            environment=self.environment,
            parsed=parsed,
        )
        record = {key: row.get(key) for key in _COLUMNS}
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()
        return record


def _without_secrets(fields: dict[str, str]) -> dict[str, str]:
    """Headers or query parameters as received, but for an API key, cookies or credentials someone sent along.

    The ``Auth`` signature stays: it is what ``received()`` is there to show, and it is no secret.
    """
    return {k: v for k, v in fields.items() if k.lower().replace("-", "_") not in _SECRET_FIELDS}


_SECRET_FIELDS = frozenset({"api_key", "authorization", "cookie", "proxy_authorization"})
