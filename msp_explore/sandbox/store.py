"""The sandbox's state: orders, their transactions, and every status change they go through.

All changes happen under one lock. Notifications a change causes are collected while the lock is
held and sent after it is released, so a receiver may call back into the sandbox while it is notified.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import random
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from . import validate
from .catalog import CARD_BRANDS, GATEWAYS, GIFTCARD_BALANCE, Gateway, Scenario
from .catalog import scenario_for_amount as _amount_scenario
from .clock import Clock
from .model import FAILED, PSPID_EMAIL, Order, Transaction, encode, units
from .notify import Notifier
from .payments import blank_details, costs, customer_view, payment_details, payment_method
from .refunds import AfterPayment
from .validate import Reject

__all__ = ["FAILED", "Order", "Store", "Transaction", "encode", "units"]

class Store(AfterPayment):
    def __init__(self, api_key: str, *, seed: int | None = None, clock: Clock, notifier: Notifier) -> None:
        self.api_key = api_key
        self.seed = seed
        self.clock = clock
        self.notifier = notifier
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.rng = random.Random(self.seed)
            self.orders: dict[str, Order] = {}
            self.sessions: dict[str, str] = {}
            # every transaction in creation order: an Order (payment) or a Transaction (refund, capture)
            self.transactions: list[Order | Transaction] = []
            self.by_transaction_id: dict[str, Order | Transaction] = {}
            self.timers: list[tuple[datetime, int, str, tuple[tuple[int, str, str], ...]]] = []
            self._timer_seq = itertools.count()
            self._outbox: list[tuple[str, str, str, bytes]] = []
            # the API requests answered, for GET /sandbox/requests (what a webhook handler asked, say)
            self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)

    # -- plumbing -----------------------------------------------------------------------------
    @contextmanager
    def change(self) -> Iterator[None]:
        """Hold the lock for a change, then send the notifications it caused."""
        with self.lock:
            self._run_timers()
            yield
            outbox, self._outbox = self._outbox, []
        for notice in outbox:
            self.notifier.send(*notice)

    def _new_id(self, *, digits: int = 9) -> int:
        while True:
            value = self.rng.randrange(10 ** (digits - 1), 10**digits)
            if str(value) not in self.by_transaction_id:
                return value

    def _save(self, order: Order, *, notify: bool = True) -> None:
        order.body = encode(order.data)
        url = order.payment_options.get("notification_url")
        if notify and url:
            method = order.payment_options.get("notification_method") or "POST"
            self._outbox.append((url, method, order.order_id, order.body))

    def get(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise Reject(404, 1006, "Invalid transaction ID")
        return order

    def run_timers(self) -> None:
        with self.change():
            pass

    def _run_timers(self) -> None:
        now = self.clock.now()
        while self.timers and self.timers[0][0] <= now:
            due, _, order_id, steps = heapq.heappop(self.timers)
            order = self.orders.get(order_id)
            if order is None:
                continue
            _, status, financial = steps[0]
            if status == "expired" and order.data["status"] != "initialized":
                continue  # the link expired after the order moved on: nothing happens
            self._set_status(order, status, financial, when=due)
            if len(steps) > 1:
                self._schedule(order_id, steps[1:], due - timedelta(seconds=steps[0][0]))

    def _schedule(self, order_id: str, steps: tuple[tuple[int, str, str], ...], start: datetime) -> None:
        due = start + timedelta(seconds=steps[0][0])
        heapq.heappush(self.timers, (due, next(self._timer_seq), order_id, steps))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.run_timers()
        self.notifier.advance()

    # -- orders -------------------------------------------------------------------------------
    def create_order(self, body: Any, root: str) -> Order:
        fields = validate.order(body)
        with self.change():
            if fields["order_id"] in self.orders:
                raise Reject(400, 1006, "Invalid transaction ID: order_id is already in use")
            self.clock.tick()
            now = self.clock.now()
            stamp = self.clock.stamp()
            customer = fields["customer"]
            digits = 16 if customer.get("email") == PSPID_EMAIL else 9
            session_id = "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(35))
            gateway = fields["gateway"]
            data: dict[str, Any] = {
                "amount": body["amount"],
                "amount_refunded": 0,
                "costs": [],
                "created": stamp,
                "currency": body["currency"].upper(),
                "custom_info": {
                    k: fields["custom_info"].get(k) for k in ("custom_1", "custom_2", "custom_3")
                },
                "customer": customer_view(customer),
                "description": str(body["description"]),
                "fastcheckout": "YES" if fields["type"] == "checkout" else "NO",
                "financial_status": "initialized",
                "items": body.get("items"),
                "modified": stamp,
                "order_id": fields["order_id"],
                "payment_details": blank_details(gateway),
                "payment_methods": [],
                "reason": "",
                "reason_code": "",
                "related_transactions": None,
                "status": "initialized",
                "transaction_id": self._new_id(digits=digits),
                "var1": body.get("var1"),
                "var2": body.get("var2"),
                "var3": body.get("var3"),
            }
            for key in ("shopping_cart", "checkout_options"):
                if fields[key] is not None:
                    data[key] = fields[key]
            order = Order(
                data=data,
                type=fields["type"],
                gateway=gateway,
                session_id=session_id,
                payment_options=fields["payment_options"],
                gateway_info=fields["gateway_info"],
                manual_capture=body.get("capture") == "manual",
                created_at=now,
            )
            locale = customer.get("locale") or "en_US"
            order.payment_url = f"{root}connect/{session_id}/?lang={locale}"
            typed = order.gateway_info.get("card_number") or order.gateway_info.get("account_holder_iban")
            if order.type == "direct" and isinstance(typed, str | int) and GATEWAYS[gateway].form in ("card", "iban"):
                # checked before anything is stored, so a rejected order_id can be used again
                order.preset = self.resolve(order, GATEWAYS[gateway], str(typed)).key
            self.orders[order.order_id] = order
            self.sessions[session_id] = order.order_id
            self.transactions.append(order)
            self.by_transaction_id[str(data["transaction_id"])] = order
            self._schedule(order.order_id, ((fields["lifetime"], "expired", "expired"),), now)
            self._save(order, notify=False)
            if order.type == "direct":
                self._start_direct(order)
        return order

    def _start_direct(self, order: Order) -> None:
        """Direct orders go straight to the method.

        Direct debit with an IBAN in gateway_info is decided at once. A card number waits for the
        payer at ``payment_url`` (3-D Secure) and decides the outcome there or on ``pay(order_id)``.
        """
        gateway = GATEWAYS[order.gateway or "IDEAL"]
        info = order.gateway_info
        if order.preset is not None and gateway.form == "iban":
            scenario = self.resolve(order, gateway, order.preset)
            holder = info.get("account_holder_name")
            self._pay(order, gateway, scenario, {"iban": order.preset, "holder": holder})
        else:
            card = self.resolve(order, gateway, order.preset) if order.preset is not None else None
            holder = info.get("card_holder_name")
            expiry = info.get("card_expiry_date")  # YYMM in gateway_info
            typed = f"{str(expiry)[2:]}/{str(expiry)[:2]}" if expiry else None
            inputs = {"holder": holder, "expiry": typed}
            order.data["payment_details"] = payment_details(order, gateway, card, inputs, self.rng)
            self._save(order, notify=False)

    # -- paying ---------------------------------------------------------------------------------
    def resolve(self, order: Order, gateway: Gateway, choice: str | None) -> Scenario:
        """Find the scenario a payer's choice means: its key, card number, IBAN, or the status it leads to."""
        if gateway.form == "amount":
            by_amount = _amount_scenario(int(order.data["amount"]))
            wanted = next(s for s in gateway.scenarios if s.key == by_amount)
            if choice not in (None, "", wanted.key, wanted.outcome):
                raise Reject(
                    400,
                    1000,
                    f"scenario: {gateway.id} decides by amount; "
                    f"{order.data['amount']} cents leads to {wanted.outcome}, not {choice}",
                )
            return wanted
        if choice is None or choice == "":
            return gateway.scenarios[0]
        key = str(choice).strip().replace(" ", "").lower()
        for scenario in gateway.scenarios:
            if scenario.key.lower() == key:
                return scenario
        for scenario in gateway.scenarios:
            if scenario.outcome == key or (key == "cancelled" and scenario.key == "cancelled"):
                return scenario
        if key == "cancelled":
            for scenario in gateway.scenarios:
                if scenario.outcome in ("void", "cancelled"):
                    return scenario
        if gateway.fallback is not None and len(key) >= 15 and key[:2].isalpha():
            return gateway.fallback
        options = ", ".join(s.key for s in gateway.scenarios)
        raise Reject(
            400, 1000, f"scenario: {choice!r} is not a test scenario of {gateway.id}; use one of {options}"
        )

    def infer_gateway(self, order: Order, choice: str | None) -> Gateway:
        if order.gateway:
            return GATEWAYS[order.gateway]
        key = str(choice or "").replace(" ", "")
        if key in CARD_BRANDS:
            return GATEWAYS[CARD_BRANDS[key]]
        if key.upper().startswith("NL") and len(key) >= 15:
            return GATEWAYS["BANKTRANS"]
        for gateway in GATEWAYS.values():  # iDEAL first, then whichever method offers that outcome
            if any(s.key == key.lower() or s.outcome == key.lower() for s in gateway.scenarios):
                return gateway
        return GATEWAYS["IDEAL"]

    def pay(
        self,
        order_id: str,
        choice: str | None = None,
        gateway_id: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> Order:
        with self.change():
            order = self.get(order_id)
            if gateway_id:
                gateway = GATEWAYS.get(gateway_id.upper())
                if gateway is None:
                    raise Reject(400, 1023, f"gateway: {gateway_id!r} is not an available payment method")
                if order.gateway and order.gateway != gateway.id:
                    raise Reject(400, 1023, f"gateway: this order is for {order.gateway}, not {gateway.id}")
            else:
                gateway = self.infer_gateway(order, choice)
            choice = choice or order.preset
            scenario = self.resolve(order, gateway, choice)
            self._pay(order, gateway, scenario, {"card_number": choice, "iban": choice, **(inputs or {})})
        return order

    def _pay(self, order: Order, gateway: Gateway, scenario: Scenario, inputs: dict[str, Any]) -> None:
        if order.attempted or order.data["status"] != "initialized":
            raise Reject(
                400,
                1000,
                f"order_id: order {order.order_id} can no longer be paid (status {order.data['status']})",
            )
        self.clock.tick()
        steps = scenario.steps
        if gateway.form == "giftcard" and GIFTCARD_BALANCE.get(scenario.key, 0) < order.data["amount"]:
            steps = ((0, "declined", "declined"),)
            order.data["reason"] = "Insufficient balance on the gift card"
        elif scenario.reason and steps[-1][1] == "declined":
            order.data["reason"] = scenario.reason
        if order.manual_capture and gateway.form == "card" and steps[0][1:] == ("completed", "completed"):
            steps = ((0, "completed", "initialized"),)  # authorised, waiting for capture
        order.attempted = True
        order.gateway = gateway.id
        brand = CARD_BRANDS.get(scenario.key, gateway.id) if gateway.id == "CREDITCARD" else gateway.id
        details = payment_details(order, GATEWAYS[brand], scenario, inputs, self.rng)
        order.data["payment_details"] = details
        order.data["payment_methods"] = [payment_method(order.data, details, GATEWAYS[brand])]
        if steps[-1][1] not in FAILED:
            order.data["costs"] = costs(order, gateway, self._new_id)
        _, status, financial = steps[0]
        self._set_status(order, status, financial)
        if len(steps) > 1:
            self._schedule(order.order_id, steps[1:], self.clock.now())

    def _set_status(self, order: Order, status: str, financial: str, when: datetime | None = None) -> None:
        data = order.data
        if (data["status"], data["financial_status"]) == (status, financial) and when is None:
            self._save(order)  # a method was chosen: the data changed even if the statuses did not
            return
        self.clock.tick()
        data["status"], data["financial_status"] = status, financial
        data["modified"] = self.clock.stamp()
        if financial == "completed" and "completed" not in data:
            data["completed"] = data["modified"]
        for method in data["payment_methods"] or []:
            method["status"] = financial
        self._save(order)
