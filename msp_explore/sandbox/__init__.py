"""An offline stand-in for MultiSafepay's test environment, served on 127.0.0.1.

Usage::

    with Sandbox(seed=0) as sandbox:
        client = Client(sandbox.api_key, base_url=sandbox.url)
        client.create_order(order_id="my-order-id-1", currency="EUR", amount=1000, description="Test")
        sandbox.pay("my-order-id-1", "completed")
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

from .._server import BackgroundServer
from ..controls import Faults, SandboxControls
from ..errors import MspError
from .app import create_app
from .clock import SEEDED_START, Clock
from .faults import FaultRules
from .notify import Notifier
from .store import Store

DEFAULT_API_KEY = "sandbox-key-not-a-secret"

__all__ = ["DEFAULT_API_KEY", "Sandbox", "create_app"]


class Sandbox:
    """MultiSafepay's test API, payment page and webhooks, on a real HTTP server on 127.0.0.1.

    Parameters
    ----------
    api_key : the key the sandbox accepts and signs notifications with.
    seed : with a seed, transaction IDs, payment details and the orders' times repeat exactly from run
        to run: the clock starts at ``start`` (default 2026-01-01T12:00:00) and moves one second per
        state change and by ``advance``. Without one, the clock follows the wall clock. Webhook retries,
        link expiry and delayed outcomes run on this clock (so with a seed, as it is advanced), while
        notifications are always signed with the real time of sending.
    retry_interval : seconds of sandbox time between webhook retries (MultiSafepay: 15 minutes).
    sync_notifications : deliver each notification's first attempt before the call that caused it
        (``pay``, a payment page submit, a refund...) returns.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        seed: int | None = None,
        retry_interval: float = 900.0,
        retries: int = 3,
        sync_notifications: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        start: datetime | None = None,
    ) -> None:
        self.api_key = api_key
        self.seed = seed
        frozen = seed is not None
        self.clock = Clock(start or (SEEDED_START if frozen else None), frozen=frozen)
        self.notifier = Notifier(
            api_key, self.clock, retry_interval=retry_interval, retries=retries, sync=sync_notifications
        )
        self.store = Store(api_key, seed=seed, clock=self.clock, notifier=self.notifier)
        self.fault_rules = FaultRules(seed)  # what ``faults`` reaches over HTTP
        self.app = create_app(self.store, self.fault_rules)
        self.server = BackgroundServer(self.app, host=host, port=port)
        self._ticker: threading.Thread | None = None
        self._controls: SandboxControls | None = None
        self._stop = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        self.fault_rules.open()
        self.server.start()
        self._stop.clear()
        if not self.clock.frozen:  # delayed outcomes happen on their own when time really passes
            self._ticker = threading.Thread(target=self._tick, name="msp-sandbox-clock", daemon=True)
            self._ticker.start()
        return self

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            self.store.run_timers()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
            self._ticker = None
        self.fault_rules.close()  # stalled and slowed requests end now, so the server stops at once
        self.server.stop()
        self.notifier.close()
        if self._controls is not None:
            self._controls.close()
            self._controls = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base, like ``https://testapi.multisafepay.com/v1/json``."""
        return self.server.url_for("/v1/json")

    # -- what a tester does by hand on MultiSafepay's side: over HTTP, as for a sandbox elsewhere ------------
    @property
    def controls(self) -> SandboxControls:
        """This sandbox's controls, reached over HTTP like those of ``msp-explore sandbox`` in another terminal."""
        if self._controls is None:
            if not self.server.is_running():
                raise MspError(f"{self!r} is not running: start() it first")
            self._controls = SandboxControls(self.url, self.api_key)
        return self._controls

    def pay(self, order_id: str, scenario: str | None = None, *, gateway: str | None = None) -> dict[str, Any]:
        """Do what submitting the payment page does, and return the order as GET would (see ``SandboxControls``)."""
        return self.controls.pay(order_id, scenario, gateway=gateway)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock: delayed outcomes, link expiry and webhook retries that fall due happen."""
        self.controls.advance(seconds)

    def reset(self) -> None:
        """Forget every order, transaction, delivery and fault rule; a seeded sandbox starts its sequence again."""
        self.controls.reset()

    @property
    def faults(self) -> Faults:
        """Fault rules on demand (``faults.add("POST /orders status=503 x2")``, ``list()``, ``clear()``): see
        ``msp_explore.sandbox.faults`` for the rules."""
        return self.controls.faults

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until every notification that is due has been attempted."""
        return self.controls.wait_for_deliveries(timeout)

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook attempt: url, status_code, response_body, time, attempt, acknowledged, error.

        Still readable after ``stop()``, from this sandbox's own record: there is no server left to ask.
        """
        if not self.server.is_running():
            return list(self.notifier.deliveries)
        return self.controls.list_deliveries()

    def get_order(self, order_id: str) -> dict[str, Any]:
        """The order as GET /orders/{order_id} returns it."""
        with self.store.lock:
            return json.loads(self.store.get(order_id).body)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        seed = f" seed={self.seed}" if self.seed is not None else ""
        return f"<Sandbox {self.url}{seed}>"
