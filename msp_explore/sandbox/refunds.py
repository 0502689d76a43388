"""What happens to an order after it is paid: cancel and ship (status changes by a table), refunds,
captures and cancelled authorisations, and the related transactions they leave on the order.

``AfterPayment`` is a part of ``Store``, kept in its own module: it works on the store's orders, under
the store's lock (``change()``), and saves and notifies through it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import validate
from .catalog import GATEWAYS
from .model import Order, Transaction, units
from .validate import Reject

# PATCH /orders/{id} status changes: the status asked for, and the statuses it may come from.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "cancelled": ("initialized",),
    "shipped": ("completed", "uncleared", "shipped"),
}


class AfterPayment:
    def update_order(self, order_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Reject(400, 1016, "body: must be a JSON object")
        with self.change():
            order = self.orders.get(order_id)
            if order is None:
                raise Reject(410, 1000, "Not found")
            status = body.get("status")
            current = order.data["status"]
            if body.get("extend_expiration"):
                return {}
            if not isinstance(status, str) or status not in TRANSITIONS:
                raise Reject(400, 1000, "status: must be cancelled or shipped (or send extend_expiration)")
            if current not in TRANSITIONS[status]:
                raise Reject(400, 1000, f"status: an order in status {current} cannot be {status}")
            if status == "cancelled":
                self._set_status(order, "cancelled", "cancelled")
                return {}
            financial = order.data["financial_status"]  # shipped
            for key in ("tracktrace_code", "tracktrace_url", "carrier", "ship_date", "invoice_id"):
                if body.get(key) is not None:
                    order.data.setdefault("shipping", {})[key] = body[key]
            self._set_status(order, "shipped", "completed" if financial == "uncleared" else financial)
            return {}

    def cancel_transaction(self, order_id: str) -> dict[str, Any]:
        with self.change():
            order = self.get(order_id)
            if order.data["status"] not in TRANSITIONS["cancelled"]:
                raise Reject(
                    400, 1000, f"order_id: an order in status {order.data['status']} cannot be cancelled"
                )
            self._set_status(order, "cancelled", "cancelled")
            return order.data

    def refund(self, order_id: str, body: Any) -> dict[str, Any]:
        fields = validate.refund(body)
        with self.change():
            order = self.get(order_id)
            data = order.data
            if (
                data["status"] not in ("completed", "shipped", "partial_refunded")
                or data["financial_status"] not in ("completed", "initialized")
                or (data["financial_status"] == "initialized" and order.gateway != "PAYPAL")
            ):
                raise Reject(
                    400, 1034, f"Cannot refund: order is {data['status']}/{data['financial_status']}"
                )
            gateway = GATEWAYS.get(order.gateway or "")
            if gateway is None or not gateway.refundable:
                raise Reject(400, 1034, f"Cannot refund: {order.gateway} payments cannot be refunded by API")
            if fields["currency"].upper() != data["currency"]:
                raise Reject(400, 1034, f"currency: must be the order's currency {data['currency']}")
            left = data["amount"] - data["amount_refunded"]
            amount = fields.get("amount") or left
            if amount > left:
                raise Reject(400, 1034, f"amount: {amount} is more than the {left} cents left to refund")
            now = self.clock.now()
            for earlier in order.refunds:
                if (
                    earlier["amount"] == amount
                    and earlier["status"] != "void"
                    and now - earlier["_at"] < timedelta(minutes=5)
                ):
                    raise Reject(400, 1034, "amount: the same amount was refunded less than 5 minutes ago")
            self.clock.tick()
            stamp = self.clock.stamp()
            txn = Transaction(
                self._new_id(),
                str(fields.get("refund_order_id") or order_id),
                "refund",
                amount,
                data["currency"],
                self.clock.now(),
                "reserved",
                "initialized",
                str(fields.get("description") or f"Refund for order {order_id}"),
                order.gateway,
            )
            self._add(txn)
            refund = {"refund_id": txn.transaction_id, "amount": amount, "status": "reserved", "_at": now}
            order.refunds.append(refund)
            data["amount_refunded"] += amount
            data["costs"] = data["costs"] + [
                {
                    "amount": units(amount, data["currency"]),
                    "created": stamp,
                    "description": txn.description,
                    "status": "reserved",
                    "transaction_id": txn.transaction_id,
                    "type": "withdraw",
                }
            ]
            self._relate(order, txn)
            full = data["amount_refunded"] >= data["amount"]
            self._set_status(order, "refunded" if full else "partial_refunded", data["financial_status"])
            return {
                "order_id": order_id,
                "refund_id": txn.transaction_id,
                "transaction_id": txn.transaction_id,
            }

    def cancel_refund(self, order_id: str, refund_id: str, body: Any) -> dict[str, Any]:
        with self.change():
            order = self.get(order_id)
            if not isinstance(body, dict) or body.get("status") != "void":
                raise Reject(400, 1000, 'status: must be "void" to cancel a refund')
            refund = next((r for r in order.refunds if str(r["refund_id"]) == refund_id), None)
            if refund is None:
                raise Reject(404, 1006, "Invalid transaction ID: no such refund")
            if refund["status"] != "reserved":
                raise Reject(
                    400, 1034, f"refund_id: a refund in status {refund['status']} cannot be cancelled"
                )
            refund["status"] = "void"
            txn = self.by_transaction_id[refund_id]
            assert isinstance(txn, Transaction)
            txn.status = txn.financial_status = "void"
            data = order.data
            data["amount_refunded"] -= refund["amount"]
            for entry in data["related_transactions"] or []:
                if entry["transaction_id"] == txn.transaction_id:
                    entry["status"] = "void"
            for cost in data["costs"]:
                if cost.get("transaction_id") == txn.transaction_id:
                    cost["status"] = "void"
            status = "completed" if data["amount_refunded"] == 0 else "partial_refunded"
            self._set_status(order, status, data["financial_status"])
            return {}

    def capture(self, order_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Reject(400, 1016, "body: must be a JSON object")
        with self.change():
            order = self.get(order_id)
            data = order.data
            if not order.manual_capture or (data["status"], data["financial_status"]) != (
                "completed",
                "initialized",
            ):
                raise Reject(
                    400, 1000, "order_id: only an authorised manual-capture card order can be captured"
                )
            amount = validate.amount(body.get("amount"))
            captured = sum(t["amount"] for t in data["related_transactions"] or [] if t["type"] == "capture")
            if amount > data["amount"] - captured:
                raise Reject(
                    400, 1001, f"amount: more than the {data['amount'] - captured} cents left to capture"
                )
            if body.get("new_order_status", "completed") != "completed":
                raise Reject(400, 1000, "new_order_status: must be completed")
            self.clock.tick()
            captures = sum(1 for t in data["related_transactions"] or [] if t["type"] == "capture")
            new_id = str(body.get("new_order_id") or f"{order_id}-capture-{captures + 1}")
            txn = Transaction(
                self._new_id(),
                new_id,
                "capture",
                amount,
                data["currency"],
                self.clock.now(),
                "completed",
                "completed",
                str(body.get("description") or "Capture"),
                order.gateway,
                completed=self.clock.now(),
            )
            self._add(txn)
            self._relate(order, txn)
            if captured + amount >= data["amount"]:
                self._set_status(order, "completed", "completed")
            else:
                self._save(order)
            return {"order_id": new_id, "transaction_id": txn.transaction_id}

    def cancel_authorization(self, order_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("status") != "cancelled" or not body.get("reason"):
            raise Reject(400, 1000, 'status: must be "cancelled", and reason is required')
        with self.change():
            order = self.get(order_id)
            if (
                not order.manual_capture
                or order.data["financial_status"] != "initialized"
                or order.data["status"] != "completed"
            ):
                raise Reject(400, 1000, "order_id: only an authorised manual-capture order can be cancelled")
            self._set_status(order, "void", "void")
            return {"order_id": order_id, "success": True, "transaction_id": order.data["transaction_id"]}

    def _add(self, txn: Transaction) -> None:
        self.transactions.append(txn)
        self.by_transaction_id[str(txn.transaction_id)] = txn

    def _relate(self, order: Order, txn: Transaction) -> None:
        stamp = txn.created.strftime("%Y-%m-%dT%H:%M:%S")
        entry = {  # no costs: MultiSafepay's related refunds have none (spec example getReceiptRefund)
            "amount": txn.amount,
            "created": stamp,
            "currency": txn.currency,
            "description": txn.description,
            "modified": stamp,
            "order_id": txn.order_id,
            "reference_transaction_id": order.data["transaction_id"],
            "status": txn.status,
            "transaction_id": txn.transaction_id,
            "type": txn.type,
        }
        if txn.type == "refund":
            entry["refund_order_id"] = txn.order_id
        order.data["related_transactions"] = (order.data["related_transactions"] or []) + [entry]
