"""Deliver webhook notifications the way MultiSafepay does: signed, acknowledged by ``OK``, retried.

A notification is a snapshot of the order at the moment it changed. Each attempt gets a fresh
timestamp (so a fresh ``Auth``); an attempt that is not answered with HTTP 200 and ``OK`` in the
first 100 characters is retried ``retries`` times, ``retry_interval`` seconds apart.

Retries are due on the sandbox's logical clock, so ``advance()`` brings them on (and a seeded sandbox,
whose clock stands still, retries only when it is advanced). The timestamp each attempt is signed with
is the real time of sending, as MultiSafepay's is: a receiver checks it against its own wall clock.

Webhook faults (``faults.py``: delay, duplicate, out_of_order, before_redirect, after_redirect) act in
``send`` and around a payment page's answer (``open_page``, ``close_page``, ``page_answered``); each
delivery record says which fault made or moved it (``fault``) and, for a change made on the payment page,
whether the page's answer had already gone out (``redirected``).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from ..config import is_local
from ..webhooks import sign_notification
from .clock import Clock

if TYPE_CHECKING:
    from .faults import FaultRules

OUT_OF_ORDER_HOLD = 3600.0  # sandbox seconds an out_of_order notification waits at most for its order's next one
SEND_KINDS = ("delay", "duplicate", "out_of_order")


@dataclass
class Page:
    """A payment page submit: the notifications its payment caused, and whether its answer has gone out."""

    order_id: str
    mode: str | None  # "before_redirect", "after_redirect" or None (as it happens)
    generation: int
    answered: threading.Event = field(default_factory=threading.Event)
    sent: list[Notice] = field(default_factory=list)  # first attempts made or queued during the payment
    held: list[Notice] = field(default_factory=list)  # after_redirect: waiting for the answer


@dataclass
class Notice:
    url: str
    method: str
    order_id: str
    body: bytes
    attempt: int = 1
    last_ts: int = 0  # wire timestamp of the previous attempt
    due: float = 0.0  # when this attempt fell due, on the sandbox clock
    number: int = 0  # which notification this is, counted from 1: its attempts share it
    fault: str | None = None  # the webhook fault that made or moved this notification
    page: Page | None = None  # the payment page submit whose payment caused it
    tried: bool = False  # its first attempt has been made


def acknowledged(status_code: int, text: str) -> bool:
    return status_code == 200 and "OK" in text[:100]


class Notifier:
    def __init__(
        self,
        api_key: str,
        clock: Clock,
        *,
        retry_interval: float = 900.0,
        retries: int = 3,
        sync: bool = False,
        timeout: float = 10.0,
        allow_remote: bool = False,
    ) -> None:
        self.api_key = api_key
        self.allow_remote = allow_remote
        self.clock = clock
        self.retry_interval = retry_interval
        self.retries = retries
        self.sync = sync
        self.timeout = timeout
        self.deliveries: list[dict[str, Any]] = []
        self._queue: list[tuple[float, int, Notice]] = []
        self._seq = itertools.count()
        self._numbers = itertools.count(1)
        self._busy = 0
        self._cond = threading.Condition()
        self._local = threading.local()
        self._stopped = False
        self._worker: threading.Thread | None = None
        self.faults: FaultRules | None = None  # set by create_app: the sandbox's fault rules
        self._held: dict[str, Notice] = {}  # order_id -> its notification held back by out_of_order
        self._pages: dict[str, Page] = {}  # order_id -> the payment page submit paying it right now
        self._answering: dict[int, Page] = {}  # by id(): pages holding notifications until they answer
        self._generation = 0  # counts reset(): a page answered after a reset must not send into the new state

    # -- scheduling (on the sandbox's logical clock) ---------------------------------------------
    def _now(self) -> float:
        return self.clock.seconds()

    def send(self, url: str, method: str, order_id: str, body: bytes) -> None:
        notice = Notice(url, method, order_id, body, due=self._now(), number=next(self._numbers))
        rule = self.faults.match_webhook(order_id, SEND_KINDS) if self.faults is not None else None
        kind, value = (rule["kind"], rule["value"]) if rule else (None, None)
        with self._cond:
            notice.page = self._pages.get(order_id)
            held = self._held.pop(order_id, None)
            if held is not None:  # an earlier change held back by out_of_order: it goes right after this one
                self._queue = [entry for entry in self._queue if entry[2] is not held]
                heapq.heapify(self._queue)
        now = [notice]
        if kind == "delay":
            notice.fault, now = kind, []
            self._push(notice, notice.due + value)
        elif kind == "out_of_order" and held is None:
            notice.fault, now = kind, []
            with self._cond:
                self._held[order_id] = notice
            self._push(notice, notice.due + OUT_OF_ORDER_HOLD)  # at the latest, if the order never changes again
        elif kind == "duplicate":
            now.append(dataclasses.replace(notice, fault=kind))
        if held is not None:
            held.due = notice.due
            now.append(held)
        for each in now:
            self._dispatch(each)

    def _dispatch(self, notice: Notice) -> None:
        """Make a first attempt now: in this thread (sync), queued, or held for the payment page's answer."""
        page = notice.page
        if page is not None:
            with self._cond:
                if page.mode == "after_redirect" and not page.answered.is_set():
                    page.held.append(notice)
                    self._answering[id(page)] = page
                    self._busy += 1  # pending: wait_idle() waits for the page to answer and these to go
                    return
                page.sent.append(notice)
        if self.sync:
            self._deliver(notice)
        else:
            self._push(notice, self._now())

    # -- the payment page's answer --------------------------------------------------------------------
    def open_page(self, order_id: str, mode: str | None) -> Page:
        """A payment page is paying ``order_id``: the notifications this causes belong to its answer."""
        page = Page(order_id, mode, self._generation)
        with self._cond:
            self._pages[order_id] = page
        return page

    def close_page(self, page: Page) -> None:
        """The page's payment is done; with before_redirect, wait until its notifications have been attempted."""
        deadline = time.monotonic() + self.timeout + 1
        with self._cond:
            if self._pages.get(page.order_id) is page:
                del self._pages[page.order_id]
            while page.mode == "before_redirect" and not all(n.tried for n in page.sent):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break  # a receiver slower than the notifier's own timeout: answer anyway
                self._cond.wait(remaining)

    def page_answered(self, page: Page) -> None:
        """The page's answer (its redirect) has gone out: what after_redirect held goes now."""
        page.answered.set()
        with self._cond:
            held, page.held = page.held, []
            if id(page) not in self._answering or page.generation != self._generation:
                return  # reset() in between has forgotten them, and counted them off
            del self._answering[id(page)]
            self._busy -= len(held)
        for notice in held:
            self._push(notice, self._now())

    def _push(self, notice: Notice, due: float) -> None:
        notice.due = due
        with self._cond:
            heapq.heappush(self._queue, (due, next(self._seq), notice))
            self._ensure_worker()
            self._cond.notify_all()

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._stopped = False
            self._worker = threading.Thread(target=self._run, name="msp-sandbox-notifier", daemon=True)
            self._worker.start()

    def _pop_due(self) -> Notice | None:
        with self._cond:
            if self._queue and self._queue[0][0] <= self._now():
                self._busy += 1
                notice = heapq.heappop(self._queue)[2]
                if self._held.get(notice.order_id) is notice:  # its hold ran out: no longer held
                    del self._held[notice.order_id]
                return notice
        return None

    def _done(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    wait = self._queue[0][0] - self._now() if self._queue else None
                    if wait is not None and wait <= 0:
                        break
                    # A frozen clock moves only by advance(), which notifies; a live one by itself.
                    live = wait is not None and not self.clock.frozen
                    self._cond.wait(timeout=min(wait, 1.0) if live else 1.0)
                if self._stopped:
                    return
            self.flush()

    def flush(self) -> None:
        """Deliver every attempt that is due now, in the calling thread."""
        while (notice := self._pop_due()) is not None:
            try:
                self._deliver(notice)
            finally:
                self._done()

    def advance(self) -> None:
        """The clock was moved: deliver the attempts that fell due."""
        with self._cond:
            self._cond.notify_all()
        if self.sync:  # what fell due is attempted before advance() returns, by whichever thread took it
            self.flush()
            self.wait_idle()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._busy

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is due or being delivered; retries scheduled for later do not count."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy or (self._queue and self._queue[0][0] <= self._now()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=min(remaining, 0.05))
        return True

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self.deliveries = []
            self._numbers = itertools.count(1)
            self._held.clear()
            self._pages.clear()
            self._busy -= sum(len(page.held) for page in self._answering.values())
            self._answering.clear()
            self._generation += 1

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=5)
            self._worker = None

    # -- delivery -----------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # a local receiver must never be reached through a proxy
        return session

    def _deliver(self, notice: Notice) -> None:
        # The wire carries the real time of sending; a retry never repeats its predecessor's timestamp
        # (retries brought on by advance() may follow each other within one real second).
        ts = notice.last_ts = max(int(time.time()), notice.last_ts + 1)
        sep = "&" if "?" in notice.url else "?"
        url = f"{notice.url}{sep}transactionid={quote(notice.order_id, safe='')}&timestamp={ts}"
        record: dict[str, Any] = {
            "order_id": notice.order_id,
            "notification": notice.number,
            "attempt": notice.attempt,
            "method": notice.method,
            "url": url,
            "time": self.clock.stamp(),  # on the sandbox's clock, like the order's own times
            "timestamp": ts,  # as sent: real unix time
            "status_code": None,
            "response_body": "",
            "acknowledged": False,
            "error": None,
            "retry_due": None,  # when this attempt's retry falls due, on the sandbox clock; None: no retry
            "fault": notice.fault if notice.attempt == 1 else None,
            # for a change made on the payment page: whether its answer (the redirect) had gone out
            "redirected": notice.page.answered.is_set() if notice.page is not None else None,
        }
        if not self.allow_remote and not is_local(url):
            # The tutorial's example.com URLs must not leave the machine: record, never retry.
            record["error"] = "not sent: the sandbox delivers only to localhost/127.0.0.1 (allow_remote=False)"
            self.deliveries.append(record)
            notice.tried = True
            return
        try:
            if notice.method == "GET":
                response = self._session().get(url, timeout=self.timeout, allow_redirects=False)
            else:
                headers = {
                    "Auth": sign_notification(notice.body, self.api_key, ts),
                    "Content-Type": "application/json",
                }
                response = self._session().post(
                    url, data=notice.body, headers=headers, timeout=self.timeout, allow_redirects=False
                )
            text = response.text
            record.update(
                status_code=response.status_code,
                response_body=text[:1000],
                acknowledged=acknowledged(response.status_code, text),
            )
        except requests.RequestException as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            self._local.session = None  # a broken connection poisons the pool: start afresh
        retry = not record["acknowledged"] and notice.attempt <= self.retries
        if retry:
            # Counted from when this attempt fell due, not from when it ended: an advance() made while it
            # was on the wire must still bring the retry on.
            due = notice.due + self.retry_interval
            record["retry_due"] = self.clock.stamp_at(due)
        self.deliveries.append(record)
        notice.tried = True
        if retry:
            notice.attempt += 1
            self._push(notice, due)
