"""Sending notifications to an endpoint and reading its answer, as MultiSafepay does: for ``check_webhook``.

Each notification goes on a fresh connection, redirects are never followed, and only the start of the
answer is read (MultiSafepay looks at its first 100 characters). Failing to get an HTTP answer is not an
exception here: it becomes an ``Answer`` whose ``error`` says, in a few words, what happened.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import requests

from .config import mask_key

READ_LIMIT = 64 * 1024  # bytes of an answer read; only the first 100 characters count


@dataclass
class Answer:
    """What one request got: an HTTP answer (status, text), or an error saying why there was none."""

    status: int | None = None
    text: str = ""
    ms: int | None = None
    error: str | None = None
    location: str | None = None
    timed_out: bool = False

    @property
    def acknowledged(self) -> bool:
        # MultiSafepay: HTTP 200 and OK (or MULTISAFEPAY_OK, which contains it) in the first 100 characters
        return self.status == 200 and "OK" in self.text[:100]

    def describe(self) -> str:
        if self.status is None:
            return str(self.error)
        moved = f" (redirect to {self.location}, not followed)" if self.location else ""
        return f"{self.status} {self.text[:100]!r}{moved}"


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: requests and urllib3 keep the socket's error in args and reason."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [a for a in item.args if isinstance(a, BaseException)]
        todo += [e for e in (getattr(item, "reason", None), item.__cause__, item.__context__) if e is not None]


def timed_out(exc: requests.RequestException) -> bool:
    # a timeout while reading the body comes wrapped in a ConnectionError; the socket's own error says it
    return isinstance(exc, requests.Timeout) or any(isinstance(e, TimeoutError) for e in causes(exc))


def describe_error(exc: requests.RequestException, url: str, patience: float) -> str:
    """A few words on why there was no HTTP answer: refused, timed out, not HTTP, closed, reset..."""
    found = list(causes(exc))
    where = urlsplit(url).netloc
    if isinstance(exc, requests.ConnectTimeout):
        return f"could not connect to {where} within {patience:g} s"
    if timed_out(exc):
        return f"no answer from {where} within {patience:g} s"
    if any(isinstance(e, ConnectionRefusedError) for e in found):
        return f"connection refused: nothing listens at {where}"
    if any(isinstance(e, socket.gaierror) for e in found):
        return f"host not found: {urlsplit(url).hostname}"
    if any(isinstance(e, http.client.RemoteDisconnected) for e in found):
        return f"{where} closed the connection without answering"
    if any(isinstance(e, http.client.HTTPException) for e in found):
        return f"{where} answered with bytes that are not HTTP"
    if any(isinstance(e, ConnectionResetError) for e in found):
        return f"{where} reset the connection"
    return f"{type(exc).__name__} talking to {where}"


class Sender:
    """Sends notifications to the endpoint: one fresh connection each, redirects never followed."""

    def __init__(self, url: str, api_key: str, patience: float) -> None:
        self.url, self.patience = url, patience
        self._key, self._masked = api_key, mask_key(api_key)
        self.session = requests.Session()
        self.session.trust_env = False  # a handler on this machine is never reached through a proxy

    def send(self, method: str, order_id: str, ts: int, body: bytes | None = None, auth: str | None = None) -> Answer:
        sep = "&" if "?" in self.url else "?"
        target = f"{self.url}{sep}transactionid={quote(order_id, safe='')}&timestamp={ts}"
        headers = {"Connection": "close"}  # each notification on its own connection, as MultiSafepay sends them
        if body is not None:
            headers["Content-Type"] = "application/json"
        if auth is not None:
            headers["Auth"] = auth
        start = time.perf_counter()
        try:
            with self.session.request(
                method, target, data=body, headers=headers, timeout=self.patience, allow_redirects=False, stream=True
            ) as response:
                raw = next(response.iter_content(READ_LIMIT), b"")
                status, location = response.status_code, response.headers.get("Location")
        except requests.RequestException as exc:
            error = describe_error(exc, self.url, self.patience)
            return Answer(ms=elapsed_ms(start), error=error, timed_out=timed_out(exc))
        text = raw.decode("utf-8", errors="replace").replace(self._key, self._masked)
        moved = location.replace(self._key, self._masked) if location and 300 <= status < 400 else None
        return Answer(status, text, elapsed_ms(start), location=moved)

    def close(self) -> None:
        self.session.close()


def elapsed_ms(start: float) -> int:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return round((time.perf_counter() - start) * 1000)
