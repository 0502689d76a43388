"""The analysis of notebook 4: pure functions over a journal's frames, checked on orders written by hand,
and on a journal file from an earlier session, reopened; then on what the sandbox really does.

The plots are drawn too (on matplotlib's Agg backend): what they draw is what the tables say, in the
palette's colours, with the legend outside the bars.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import pytest

from msp_explore import analysis, plots
from msp_explore.client import Client
from msp_explore.display import STATUS_COLOURS
from msp_explore.journal import Journal
from msp_explore.receiver import WebhookReceiver
from msp_explore.sandbox import Sandbox
from msp_explore.scenarios import run_scenarios
from msp_explore.webhooks import encode_body

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 -- after choosing the backend


def order(order_id: str, method: str | None, status: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id, "status": status, "financial_status": status, "amount": 1000, "amount_refunded": 0,
        "currency": "EUR", "created": "2026-01-01T12:00:00", "modified": "2026-01-01T12:00:10", "costs": [],
    }  # fmt: skip
    if method is not None:
        body["payment_details"] = {"type": method}
    return {**body, **fields}


ORDERS = [
    order("a-1", "IDEAL", "completed", completed="2026-01-01T12:00:02", modified="2026-01-02T09:00:00",
          costs=[{"amount": 0.29, "type": "SYSTEM", "transaction_id": 1}]),
    order("a-2", "IDEAL", "declined", modified="2026-01-01T12:00:05",
          costs=[{"amount": 0.29, "type": "SYSTEM", "transaction_id": 2}]),
    order("a-3", "IDEAL", "partial_refunded", financial_status="completed", completed="2026-01-01T12:02:00",
          amount_refunded=400, costs=[{"amount": 0.29, "type": "SYSTEM", "transaction_id": 3},
                                      {"amount": 4.0, "type": "withdraw", "transaction_id": 4}]),
    order("a-4", "IDEAL", "completed", completed="2026-01-01T12:00:03"),
    order("b-1", "BANKTRANS", "expired", modified="2026-01-06T12:00:00"),
    order("b-2", "BANKTRANS", "initialized"),
    order("c-1", None, "initialized"),
]  # fmt: skip


def note(journal: Journal, order_id: str, status: str, *, verified: bool = True) -> None:
    body = encode_body({"order_id": order_id, "status": status, "financial_status": status})
    journal.record_notification(order_id=order_id, body=body, query={"transactionid": order_id}, headers={},
                                verified=verified, reason=None if verified else "signature: no match")  # fmt: skip


@pytest.fixture
def journal_file(tmp_path: Path) -> Path:
    """A journal written by an earlier session, closed: its orders, and how their webhooks went."""
    path = tmp_path / "earlier.sqlite"
    with Journal(path) as journal:
        for body in ORDERS:
            journal.record_order(body)
        note(journal, "a-1", "completed")
        note(journal, "a-1", "completed")  # sent again after it was accepted: a duplicate
        note(journal, "a-2", "declined", verified=False)  # the handler refused it ...
        note(journal, "a-2", "declined")  # ... and the retry got through
        note(journal, "a-3", "completed")
        note(journal, "a-3", "partial_refunded")
        note(journal, "b-1", "expired")
    return path


@pytest.fixture
def earlier(journal_file: Path) -> Iterator[Journal]:
    with Journal(journal_file) as journal:
        yield journal


def test_status_shares_per_method(earlier: Journal) -> None:
    shares = analysis.status_shares(earlier.order_frames().orders)
    assert list(shares.index) == ["(none)", "BANKTRANS", "IDEAL"]
    # statuses in the palette's order, the count first
    assert list(shares.columns) == ["orders", "completed", "initialized", "declined", "expired", "partial_refunded"]
    assert shares.loc["IDEAL"].to_dict() == {"orders": 4, "completed": 0.5, "initialized": 0.0, "declined": 0.25,
                                             "expired": 0.0, "partial_refunded": 0.25}  # fmt: skip
    assert shares.loc["BANKTRANS", ["expired", "initialized"]].tolist() == [0.5, 0.5]
    assert shares.drop(columns="orders").sum(axis=1).tolist() == [1.0, 1.0, 1.0]


def test_time_to_final_counts_from_creation_to_payment_or_last_change(earlier: Journal) -> None:
    times = analysis.time_to_final(earlier.order_frames().orders)
    seconds = dict(zip(times["order_id"], times["seconds"], strict=True))
    # a-1 was refunded nothing but modified a day later: paid is what ended its story (2 s)
    assert seconds == {"b-1": 5 * 86400.0, "a-1": 2.0, "a-4": 3.0, "a-2": 5.0, "a-3": 120.0}
    assert "b-2" not in seconds and "c-1" not in seconds  # not final yet
    summary = analysis.time_to_final_by_method(times)
    assert summary.loc["IDEAL", "orders"] == 4
    assert summary.loc["IDEAL", "median"] == pd.Timedelta(seconds=4)
    assert summary.loc["IDEAL", "longest"] == pd.Timedelta(minutes=2)


def test_webhook_attempts_and_retries(earlier: Journal) -> None:
    frames = earlier.order_frames()
    attempts = analysis.webhook_attempts(earlier.notifications_frame(), frames.orders)
    assert attempts.loc["a-1"].to_dict() == {"method": "IDEAL", "attempts": 2, "rejected": 0, "duplicates": 1,
                                             "states": 1, "repeats": 1, "retried": True}  # fmt: skip
    assert attempts.loc["a-2", ["rejected", "duplicates", "repeats", "retried"]].tolist() == [1, 0, 1, True]
    assert attempts.loc["a-3", ["attempts", "states", "retried"]].tolist() == [2, 2, False]  # two changes
    assert not attempts.loc["b-1", "retried"] and "a-4" not in attempts.index  # never notified

    summary = analysis.webhook_summary(attempts)
    assert summary.loc["IDEAL"].to_dict() == {"orders": 3, "attempts": 6, "per_order": 2.0, "rejected": 1,
                                              "duplicates": 1, "retried": 2, "retried_share": 2 / 3}  # fmt: skip
    assert summary.loc["BANKTRANS", ["orders", "attempts", "retried"]].tolist() == [1, 1, 0]


def test_refunds_and_costs_per_method_and_currency(earlier: Journal) -> None:
    frames = earlier.order_frames()
    table = analysis.refunds_and_costs(frames.orders, frames.costs)
    ideal = table.loc[("IDEAL", "EUR")]
    assert ideal[["orders", "paid", "paid_amount", "refunds", "refunded"]].tolist() == [4, 3, 30.0, 1, 4.0]
    assert ideal["fees"] == pytest.approx(0.87)  # the refund's own cost line is not a fee
    assert ideal["fee_share"] == pytest.approx(0.87 / 30.0)
    assert table.loc[("BANKTRANS", "EUR"), "paid"] == 0 and pd.isna(table.loc[("BANKTRANS", "EUR"), "fee_share"])


def test_refunds_and_costs_before_any_cost_or_payment() -> None:
    from msp_explore.frames import order_frames

    frames = order_frames([order("x-1", "IDEAL", "initialized"), order("x-2", None, "initialized")])
    assert list(frames.costs.columns) == ["order_id", "transaction_id"]  # nobody has a cost line yet
    table = analysis.refunds_and_costs(frames.orders, frames.costs)
    assert table[["orders", "paid", "refunds", "fees"]].to_dict("list") == {
        "orders": [1, 1], "paid": [0, 0], "refunds": [0, 0], "fees": [0.0, 0.0]}  # fmt: skip


def test_an_empty_journal_gives_empty_tables(tmp_path: Path) -> None:
    with Journal(tmp_path / "empty.sqlite") as journal:
        orders, notes = journal.order_frames().orders, journal.notifications_frame()
    shares, times = analysis.status_shares(orders), analysis.time_to_final(orders)
    attempts, money = analysis.webhook_attempts(notes, orders), analysis.refunds_and_costs(orders, pd.DataFrame())
    summary = analysis.webhook_summary(attempts)
    assert shares.empty and times.empty and attempts.empty and summary.empty and money.empty
    assert analysis.time_to_final_by_method(times).empty
    # on MultiSafepay's test API, before anyone paid or a tunnel brought a webhook: plots that say so
    for ax in (plots.plot_status_shares(shares), plots.plot_time_to_final(times), plots.plot_webhook_attempts(summary),
               *plots.plot_refunds_and_costs(money)):  # fmt: skip
        assert "nothing to plot yet" in [text.get_text() for text in ax.texts]
    plt.close("all")


# -- plots ------------------------------------------------------------------------------------------------
def legend_is_outside(ax: Any) -> bool:
    legend = ax.get_legend() or ax.figure.legends[0]
    ax.figure.canvas.draw()
    box, axes = legend.get_window_extent(), ax.get_window_extent()
    return box.x0 >= axes.x1 or box.y0 >= axes.y1  # right of the bars, or above them


def test_the_plots_use_the_badges_colours_with_the_legend_outside(earlier: Journal) -> None:
    frames = earlier.order_frames()
    shares = analysis.status_shares(frames.orders)
    ax = plots.plot_status_shares(shares)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["completed", "initialized", "declined", "expired", "partial_refunded"]
    colours = [matplotlib.colors.to_hex(patch.get_facecolor()) for patch in ax.get_legend().get_patches()]
    assert colours == [STATUS_COLOURS[label] for label in labels]  # completed green, declined red
    assert legend_is_outside(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["IDEAL", "BANKTRANS", "(none)"]  # top-down as the table

    times = analysis.time_to_final(frames.orders)
    ax = plots.plot_time_to_final(times)
    legend = ax.get_legend()
    dots = {text.get_text(): matplotlib.colors.to_hex(handle.get_facecolor()[0])
            for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)}  # fmt: skip
    assert dots == {s: STATUS_COLOURS[s] for s in ("completed", "declined", "expired", "partial_refunded")}
    assert legend_is_outside(ax)

    summary = analysis.webhook_summary(analysis.webhook_attempts(earlier.notifications_frame(), frames.orders))
    ax = plots.plot_webhook_attempts(summary)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["accepted", "rejected", "duplicate"]
    assert legend_is_outside(ax)

    left, right = plots.plot_refunds_and_costs(analysis.refunds_and_costs(frames.orders, frames.costs))
    assert legend_is_outside(left) and left.get_shared_y_axes().joined(left, right)
    plt.close("all")


# -- on what the sandbox does -------------------------------------------------------------------------------
def test_the_scenarios_with_webhooks_analysed_from_their_journal(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "session.sqlite"
    with Journal(path) as journal, Client(sandbox.api_key, base_url=sandbox.url, journal=journal) as client:
        with WebhookReceiver(client=client, journal=journal) as receiver:
            results = run_scenarios(client, ["IDEAL", "BANKTRANS"], progress=False, notification_url=receiver.url)
            client.get_orders(results["order_id"].tolist(), progress=False)
    with Journal(path) as journal:  # another session, reading the file alone
        frames, notes = journal.order_frames(), journal.notifications_frame()
    shares = analysis.status_shares(frames.orders)
    expected = pd.crosstab(results["method"], results["status"], normalize="index")
    for method in ("IDEAL", "BANKTRANS"):
        assert shares.loc[method, "orders"] == (results["method"] == method).sum()
        for status, share in expected.loc[method].items():
            assert shares.loc[method, status] == pytest.approx(share)
    attempts = analysis.webhook_attempts(notes, frames.orders)
    assert set(attempts.index) == set(results["order_id"])  # every order notified the receiver
    assert attempts["rejected"].sum() == 0 and not attempts["retried"].any()
    delayed = analysis.time_to_final(frames.orders).set_index("order_id")["seconds"]
    assert delayed[results.loc[results["method"] == "BANKTRANS", "order_id"]].max() > 60  # settles minutes later
    assert json.dumps(shares.to_dict())  # plain numbers, ready to export


def test_a_refused_replay_is_rejected_not_a_duplicate_and_two_environments_do_not_clash() -> None:
    # The journal flags a stale replay of an accepted body as duplicate too; the analysis counts it rejected only.
    notes = pd.DataFrame({
        "order_id": ["o-1", "o-1"], "status": ["completed"] * 2, "financial_status": ["completed"] * 2,
        "verified": [True, False], "duplicate": [False, True],
    })  # fmt: skip
    orders = pd.DataFrame({"order_id": ["o-1", "o-1"], "payment_details.type": ["IDEAL", "IDEAL"]})
    [row] = analysis.webhook_attempts(notes, orders).to_dict("records")
    assert (row["attempts"], row["rejected"], row["duplicates"], row["method"]) == (2, 1, 0, "IDEAL")
