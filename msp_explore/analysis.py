"""What a batch of test orders says, per payment method: pure functions over the journal's frames.

Everything here reads only what a ``Journal`` keeps, so it works as well on a journal from an earlier
session (``Journal("orders.sqlite")``) as on this one's::

    >>> frames, notes = journal.order_frames(), journal.notifications_frame()
    >>> status_shares(frames.orders)                   # per method: the share of each status
    >>> time_to_final(frames.orders)                   # per order: creation to final status
    >>> webhook_attempts(notes, frames.orders)         # per order: attempts, rejected, duplicates
    >>> refunds_and_costs(frames.orders, frames.costs) # per method and currency: paid, refunded, fees

A method is the order's ``payment_details.type``; an order that never got one counts as ``(none)``.
``plots.py`` draws each table.
"""

from __future__ import annotations

import pandas as pd

from .display import FINAL_STATUSES, STATUS_COLOURS

METHOD = "payment_details.type"
NO_METHOD = "(none)"
# Statuses that keep the moment the order was paid in ``completed``: their story ended then, whatever
# was refunded or shipped later.
_PAID = frozenset({"completed", "shipped", "refunded", "partial_refunded", "chargeback"})
REFUND_COST_TYPES = frozenset({"withdraw"})  # cost lines that are money paid back, not a fee


def methods(orders: pd.DataFrame) -> pd.Series:
    """Each order's payment method, as text; ``(none)`` where it has none."""
    if METHOD not in orders:
        return pd.Series(NO_METHOD, index=orders.index, name="method", dtype=str)
    return orders[METHOD].astype(str).where(orders[METHOD].notna(), NO_METHOD).rename("method")


def _by_palette(statuses: pd.Index) -> list[str]:
    """Statuses in the palette's order (paid first, unknown ones last), so tables and plots line up."""
    known = [s for s in STATUS_COLOURS if s in statuses]
    return known + sorted(str(s) for s in statuses if s not in STATUS_COLOURS)


def status_shares(orders: pd.DataFrame) -> pd.DataFrame:
    """Per method: ``orders`` (how many), then the share (0 to 1) of its orders in each status.

    The status is the latest the journal holds for each order: after the sandbox clock has moved on,
    the final one. Methods are sorted by name; status columns by the palette.
    """
    method = methods(orders)
    status = orders["status"].astype(str) if "status" in orders else pd.Series(dtype=str)
    if orders.empty:
        return pd.DataFrame(columns=["orders"], index=pd.Index([], name="method"))
    shares = pd.crosstab(method, status, normalize="index")
    shares = shares[_by_palette(shares.columns)]
    shares.insert(0, "orders", method.value_counts().reindex(shares.index).astype(int))
    shares.index.name, shares.columns.name = "method", None
    return shares


def time_to_final(orders: pd.DataFrame) -> pd.DataFrame:
    """Per order in a final status: ``order_id``, ``method``, ``status``, ``created``, ``final_at``, ``seconds``.

    ``final_at`` is when it was paid (``completed``) for an order that was, else its ``modified`` time.
    Orders not final yet (initialized, uncleared, reserved) are left out. Times are the API's.
    """
    columns = ["order_id", "method", "status", "created", "final_at", "seconds"]
    if orders.empty:
        return pd.DataFrame(columns=columns)
    status = orders["status"].astype(str)
    final = status.isin(FINAL_STATUSES)
    paid = status.isin(_PAID)
    completed = orders["completed"] if "completed" in orders else pd.Series(pd.NaT, index=orders.index)
    final_at = completed.where(paid & completed.notna(), orders["modified"])
    table = pd.DataFrame({
        "order_id": orders["order_id"], "method": methods(orders), "status": status,
        "created": orders["created"], "final_at": final_at,
    })[final]  # fmt: skip
    table["seconds"] = (table["final_at"] - table["created"]).dt.total_seconds()
    return table.sort_values(["method", "seconds"]).reset_index(drop=True)


def time_to_final_by_method(times: pd.DataFrame) -> pd.DataFrame:
    """``time_to_final`` per method: ``orders``, ``median`` and ``longest`` (as durations)."""
    grouped = times.groupby("method")["seconds"]
    table = pd.DataFrame({"orders": grouped.size(), "median": grouped.median(), "longest": grouped.max()})
    for column in ("median", "longest"):
        table[column] = pd.to_timedelta(table[column], unit="s")
    return table


def webhook_attempts(notifications: pd.DataFrame, orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per order that was notified: how its webhook notifications went, as the receiver saw them.

    Columns: ``method`` (with ``orders``), ``attempts`` (notifications received), ``rejected`` (not
    verified: answered with an error, so MultiSafepay sends again), ``duplicates`` (a state received again
    after it was accepted), ``states`` (distinct status changes notified), ``repeats`` (attempts beyond
    one per state) and ``retried`` (any repeat). Attempts that never reached the receiver (it was down)
    are not in a journal; the sandbox's ``list_deliveries()`` has those.
    """
    columns = ["method", "attempts", "rejected", "duplicates", "states", "repeats", "retried"]
    notes = notifications[notifications["order_id"].notna()]
    if notes.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="order_id"))
    state = notes["status"].astype(str) + "/" + notes["financial_status"].astype(str)
    # a duplicate is a state received again *and accepted* again; a refused replay counts as rejected only
    duplicate = notes["duplicate"] & notes["verified"]
    grouped = notes.assign(state=state, rejected=~notes["verified"], duplicate=duplicate).groupby("order_id")
    table = pd.DataFrame({
        "attempts": grouped.size(), "rejected": grouped["rejected"].sum(), "duplicates": grouped["duplicate"].sum(),
        "states": grouped["state"].nunique(),
    }).astype(int)  # fmt: skip
    table["repeats"] = table["attempts"] - table["states"]
    table["retried"] = table["repeats"] > 0
    method = methods(orders).set_axis(orders["order_id"]) if orders is not None else None
    if method is not None:  # one order_id in two environments (sandbox and test API): the latest row's method
        method = method[~method.index.duplicated(keep="last")]
    table.insert(0, "method", NO_METHOD if method is None else method.reindex(table.index).fillna(NO_METHOD))
    return table[columns]


def webhook_summary(attempts: pd.DataFrame) -> pd.DataFrame:
    """``webhook_attempts`` per method: ``orders``, ``attempts``, ``per_order``, ``rejected``, ``duplicates``,
    ``retried`` (orders that needed a repeat) and ``retried_share``."""
    columns = ["orders", "attempts", "per_order", "rejected", "duplicates", "retried", "retried_share"]
    if attempts.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="method"))
    grouped = attempts.groupby("method")
    table = pd.DataFrame({
        "orders": grouped.size(), "attempts": grouped["attempts"].sum(), "rejected": grouped["rejected"].sum(),
        "duplicates": grouped["duplicates"].sum(), "retried": grouped["retried"].sum(),
    }).astype(int)  # fmt: skip
    table.insert(2, "per_order", table["attempts"] / table["orders"])
    table["retried_share"] = table["retried"] / table["orders"]
    return table


def refunds_and_costs(orders: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """Per method and currency: ``orders``, ``paid`` (orders paid), ``paid_amount``, ``refunds`` (orders
    with money back), ``refunded``, ``fees`` and ``fee_share`` (fees / paid amount); amounts in currency units.

    Fees are the ``costs`` lines MultiSafepay charged, in the order's currency; a refund's own cost line
    (type ``withdraw``) is the money paid back, counted in ``refunded`` instead.
    """
    keys = ["method", "currency"]
    if orders.empty:
        columns = ["orders", "paid", "paid_amount", "refunds", "refunded", "fees", "fee_share"]
        return pd.DataFrame(columns=columns, index=pd.MultiIndex.from_tuples([], names=keys))
    frame = pd.DataFrame({
        "order_id": orders["order_id"], "method": methods(orders), "currency": orders["currency"].astype(str),
        "paid": orders["completed"].notna() if "completed" in orders else False,
        "amount": _column(orders, "amount.units"), "refunded": _column(orders, "amount_refunded.units").fillna(0.0),
    })  # fmt: skip
    if {"order_id", "type", "amount"} <= set(costs.columns):
        fees = costs[~costs["type"].astype(str).isin(REFUND_COST_TYPES)].groupby("order_id")["amount"].sum()
    else:  # no order has a cost line yet: the table has only its key columns
        fees = pd.Series(dtype=float)
    frame["fees"] = frame["order_id"].map(fees).fillna(0.0)
    frame["paid_amount"] = frame["amount"].where(frame["paid"], 0.0)
    grouped = frame.groupby(keys)
    table = pd.DataFrame({
        "orders": grouped.size(), "paid": grouped["paid"].sum().astype(int),
        "paid_amount": grouped["paid_amount"].sum(),
        "refunds": grouped["refunded"].apply(lambda r: int((r > 0).sum())), "refunded": grouped["refunded"].sum(),
        "fees": grouped["fees"].sum().round(2),
    })  # fmt: skip
    table["fee_share"] = (table["fees"] / table["paid_amount"]).where(table["paid_amount"] > 0)
    return table


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or NaN throughout when no order had the field."""
    return frame[name] if name in frame else pd.Series(float("nan"), index=frame.index)
