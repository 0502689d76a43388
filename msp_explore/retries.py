"""When the client tries again: urllib3's ``Retry``, mounted on the session's adapter, with two rules of ours.

``Retry`` does the backoff (doubling, with jitter, at most ``MAX_BACKOFF`` seconds), ``Retry-After``,
and the per-method rules; ``retry_policy`` sets it up as follows:

* GET is retried on connection errors, timeouts, a dropped connection, 429 and 500/502/503/504.
* Every other request (POST, PATCH) is retried only when it provably never reached the API: the
  connection could not be opened (refused, or not in time). After a reset, a timeout or a 5xx it may
  have taken effect, so resending could refund twice; the error reaches the caller instead.
  (``Client.create_order`` then checks by ``order_id`` whether the order was made: that is domain logic
  and lives in the client.)

The two rules ``Retry`` does not have:

* **429 is retried for every method**: MultiSafepay answers it before doing anything, so a POST that
  got it can be sent again, after the ``Retry-After`` it names.
* **A deadline**: no wait is started that would end more than ``deadline`` seconds after the first
  failure; the last answer (or error) is returned at once instead. A misspelt host is not retried at all.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from urllib3.exceptions import MaxRetryError, NameResolutionError, ResponseError
from urllib3.util.retry import Retry

logger = logging.getLogger("msp_explore.client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF = 8.0


class RetryPolicy(Retry):
    """``Retry`` with MultiSafepay's 429 rule and a deadline (see the module docstring)."""

    def __init__(self, *args: Any, deadline: float | None = None, started: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.started = started

    def new(self, **kw: Any) -> RetryPolicy:
        kw.setdefault("deadline", self.deadline)
        kw.setdefault("started", self.started if self.started is not None else time.monotonic())
        return super().new(**kw)  # type: ignore[return-value]

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 and self.total is not False and self.status is not False:
            return True  # not processed: safe for any method
        return super().is_retry(method, status_code, has_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> RetryPolicy:
        if isinstance(error, NameResolutionError):  # a misspelt host does not resolve by asking again
            raise MaxRetryError(_pool, url, error)
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        wait = (new.get_retry_after(response) if response is not None else None) or new.get_backoff_time()
        if new.deadline is not None and time.monotonic() + wait > (new.started or 0.0) + new.deadline:
            # urllib3 hands back the last answer (raise_on_status=False) or raises the last error.
            raise MaxRetryError(_pool, url, error or ResponseError(f"no time left for a retry in {wait:.1f} s"))
        cause = f"HTTP {response.status}" if response is not None else type(error).__name__
        logger.info("%s %s: %s; retrying in %.2f s (attempt %d)", method, url, cause, wait, len(new.history) + 1)
        return new


def retry_policy(max_attempts: int, backoff: float, deadline: float) -> RetryPolicy:
    """At most ``max_attempts`` attempts (the first included), ``backoff`` seconds apart at first, doubling."""
    retries = max_attempts - 1
    return RetryPolicy(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=False,  # never followed (the key would go along); a 3xx is an answer like any other
        allowed_methods=frozenset({"GET", "HEAD"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_max=MAX_BACKOFF,
        backoff_jitter=backoff / 2,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last 5xx reaches the client, which names it as an ApiError
        deadline=deadline,
    )
