"""The GETs of one ``get_orders`` call, sent straight to the session's connection pool.

``Session.request`` merges the session's settings, reads the proxy environment variables, looks up
the adapter and pool, and builds a ``Response`` for every call: over half a millisecond of CPU, more
than a sandbox needs to answer, and threads cannot overlap it. For many GETs to one host none of that
changes, so ``prepare_batch`` works it out once, and ``Batch.get`` is one ``urlopen`` on the pool with
the arguments ``HTTPAdapter.send`` passes, its errors mapped as it maps them. Where any of that could
differ per request (a mocked or subclassed session, an auth, hooks, cookies, a proxy), there is no
batch and every GET takes the ordinary path.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from json import loads as json_loads
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeGuard

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.models import CONTENT_CHUNK_SIZE
from requests.utils import get_encoding_from_headers, select_proxy
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    DecodeError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)

if TYPE_CHECKING:
    from urllib3 import HTTPConnectionPool


def _plain(obj: object, *methods: str) -> bool:
    """Whether ``obj`` is requests' own Session or HTTPAdapter, these methods unchanged: no subclass, mock or patch.

    A batch skips those methods; a test double (``responses``, ``requests-mock``) or a caching or signing
    session must see every request, so with one of them each GET takes the ordinary path.
    """
    cls = type(obj)
    return cls in (requests.Session, HTTPAdapter) and all(
        name not in vars(obj) and getattr(getattr(cls, name), "__module__", None) == cls.__module__ for name in methods
    )


class Answer:
    """A batch GET's success envelope: all that is kept of it, so no ``requests.Response`` is built."""

    __slots__ = ("status_code", "_body")
    headers: Mapping[str, str] = MappingProxyType({})
    reason = "OK"
    request: requests.PreparedRequest | None = None  # nothing to scrub (see Client._send)
    next: requests.PreparedRequest | None = None

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code = status_code
        self._body = body

    def json(self) -> dict[str, Any]:
        return self._body


def _adapter_error(exc: Exception, request: requests.PreparedRequest) -> Exception:
    """The requests exception ``HTTPAdapter.send`` raises for an error of urllib3's ``urlopen``."""
    # The same tests in the same order as in HTTPAdapter.send; tests/test_client.py compares the two ways.
    if isinstance(exc, ProtocolError | OSError):
        return requests.ConnectionError(exc, request=request)
    if isinstance(exc, MaxRetryError):
        reason = exc.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            return requests.ConnectTimeout(exc, request=request)
        if isinstance(reason, ResponseError):
            return requests.exceptions.RetryError(exc, request=request)
        if isinstance(reason, urllib3.exceptions.ProxyError):
            return requests.exceptions.ProxyError(exc, request=request)
        if isinstance(reason, urllib3.exceptions.SSLError):
            return requests.exceptions.SSLError(exc, request=request)
        return requests.ConnectionError(exc, request=request)
    if isinstance(exc, ClosedPoolError):
        return requests.ConnectionError(exc, request=request)
    if isinstance(exc, urllib3.exceptions.ProxyError):
        return requests.exceptions.ProxyError(exc)
    if isinstance(exc, urllib3.exceptions.SSLError):
        return requests.exceptions.SSLError(exc, request=request)
    if isinstance(exc, ReadTimeoutError):
        return requests.ReadTimeout(exc, request=request)
    if isinstance(exc, urllib3.exceptions.InvalidHeader):
        return requests.exceptions.InvalidHeader(exc, request=request)
    return exc


def _read(raw: urllib3.BaseHTTPResponse) -> bytes:
    """The whole body, decoded, failing the way ``Response.content`` fails."""
    try:
        return b"".join(raw.stream(CONTENT_CHUNK_SIZE, decode_content=True))
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc)  # noqa: B904 -- chained as requests chains it
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc)  # noqa: B904
    except ReadTimeoutError as exc:
        raise requests.ConnectionError(exc)  # noqa: B904
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc)  # noqa: B904


def in_flight(base_url: str) -> int:
    """How many GETs ``get_orders`` keeps in flight by default (see its docstring for why)."""
    return 8


def succeeded(body: Any, status: int) -> TypeGuard[dict[str, Any]]:
    return 200 <= status < 300 and isinstance(body, dict) and body.get("success") is True


class Batch:
    """The GETs of one ``get_orders`` call (see the module docstring); made by ``prepare_batch``.

    Of a successful answer only the parsed body is kept, as an ``Answer``. Any other answer becomes the
    ``Response`` requests would have built, through the adapter, with what ``Session.send`` does next
    (timing, cookies, redirects).
    """

    def __init__(
        self,
        session: requests.Session,
        adapter: HTTPAdapter,
        pool: HTTPConnectionPool,
        request: requests.PreparedRequest,
        url: str,
        settings: dict[str, Any],
    ) -> None:
        self._session = session
        self._adapter = adapter
        self._pool = pool
        self._request = request  # the template; its headers hold the key (never shown: see __repr__)
        self._headers = dict(request.headers)
        self._url = url  # the base URL and a slash, as requests spells it
        self._path = request.path_url
        self._settings = settings  # verify, cert, proxies
        self._stale = False

    def __repr__(self) -> str:
        return f"<Batch {self._url}>"

    def usable(self) -> bool:
        # Once the API has set a cookie, the session must add it to every request; once the adapter is
        # replaced (a get_orders with more workers) or its pool closed, the session's pool is elsewhere.
        # Either way the remaining GETs go through the session.
        return not self._stale and self._pool.pool is not None and self._session.get_adapter(self._url) is self._adapter

    def get(self, path: str, timeout: float) -> requests.Response | Answer:
        """GET ``path`` (below the base URL) as ``session.request(..., allow_redirects=False)`` would."""
        started = time.perf_counter()
        try:
            raw = self._pool.urlopen(
                method="GET",
                url=self._path + path.lstrip("/"),
                body=None,
                headers=self._headers,  # type: ignore[arg-type]  # bytes values are sent too (urllib3#3072)
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                retries=self._adapter.max_retries,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                chunked=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _adapter_error(exc, self._prepared(path))  # noqa: B904 -- chained as requests chains it
        content = None
        if (
            200 <= raw.status < 300
            and "set-cookie" not in raw.headers
            and (get_encoding_from_headers(raw.headers) or "").lower() == "utf-8"  # type: ignore[arg-type]
        ):
            content = _read(raw)
            try:  # as Response.json() parses it (requests would use simplejson, were it installed)
                body = json_loads(str(content, "utf-8", errors="replace"))
            except ValueError:
                body = None
            if succeeded(body, raw.status):
                return Answer(raw.status, body)
        request = self._prepared(path)
        response = self._adapter.build_response(request, raw)
        if content is not None:
            response._content = content  # read above
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
        if response.cookies:
            extract_cookies_to_jar(self._session.cookies, request, raw)
            self._stale = True
        if response.is_redirect:  # not followed, only offered as response.next
            redirects = self._session.resolve_redirects(
                response, request, yield_requests=True, stream=False, timeout=timeout, **self._settings
            )
            response._next = next(redirects, None)  # type: ignore[assignment]  # yield_requests: PreparedRequests
        response.content  # noqa: B018 -- read now, as Session.send does without stream=True
        return response

    def _prepared(self, path: str) -> requests.PreparedRequest:
        """The PreparedRequest requests would have sent, for errors and responses to refer to."""
        request = self._request.copy()  # headers of its own: the key is scrubbed from them
        request.url = self._url + path.lstrip("/")
        return request


def prepare_batch(session: requests.Session, base_url: str, headers: dict[str, str]) -> Batch | None:
    """GETs for get_orders prepared once, or None where each must take the ordinary path (see Batch)."""
    adapter = session.get_adapter(base_url)
    methods = ("send", "add_headers", "request_url", "get_connection_with_tls_context", "cert_verify")
    if not (_plain(session, "request", "send") and isinstance(adapter, HTTPAdapter) and _plain(adapter, *methods)):
        return None
    # State from which requests works out something per request: an auth (it may sign each URL),
    # params, hooks, streaming, cookies (they may be for some paths only).
    if session.auth is not None or session.params or session.stream or any(session.hooks.values()):
        return None
    if len(session.cookies) > 0:
        return None
    url = base_url + "/"
    try:
        request = session.prepare_request(requests.Request("GET", url, headers=headers))
        settings = session.merge_environment_settings(url, {}, None, None, None)
        if request.url != url or any(request.hooks.values()) or select_proxy(url, settings["proxies"]):
            return None  # a URL requests spells differently, an auth hook, or a proxy: no shortcut
        settings = {key: settings[key] for key in ("verify", "cert", "proxies")}
        pool = adapter.get_connection_with_tls_context(request, **settings)
        adapter.cert_verify(pool, url, settings["verify"], settings["cert"])
    except OSError:  # requests' own errors among them: the ordinary path raises them for each order
        return None
    return Batch(session, adapter, pool, request, url, settings)
