"""The analysis tables as plots, in the badges' colours, with legends beside the bars (never over them).

Each function takes a table from ``analysis`` and returns the matplotlib ``Axes`` it drew on (a new
figure unless ``ax`` is given); call ``plt.show()`` after it in a notebook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from .display import STATUS_COLOURS, status_colour, status_colours

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_ROW = 0.28  # inches per bar: 36 methods still fit on one screen


def _axes(rows: int, ax: Axes | None, width: float = 8.0) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(width, max(2.5, 1.2 + _ROW * rows)), layout="constrained")
    return ax


def _legend_outside(ax: Axes, title: str | None = None) -> None:
    ax.legend(title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)


def _nothing(ax: Axes, title: str | None) -> Axes:
    """An empty plot that says so (a journal without such orders yet), rather than an error."""
    ax.text(0.5, 0.5, "nothing to plot yet", ha="center", va="center", transform=ax.transAxes, color="#57606a")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def _bars(table: pd.DataFrame, colours: list[str], ax: Axes | None, **options: Any) -> Axes:
    ax = _axes(len(table), ax)
    if table.empty:
        return _nothing(ax, options.get("title"))
    # barh draws the first row at the bottom: reverse, so the table reads top-down like the plot
    table.iloc[::-1].plot.barh(stacked=True, color=colours, width=0.8, ax=ax, **options)
    ax.set_ylabel("")
    return ax


def plot_status_shares(shares: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """``analysis.status_shares``: one stacked bar per method, a segment per status."""
    from matplotlib.ticker import PercentFormatter

    table = shares.drop(columns=["orders"], errors="ignore")
    ax = _bars(table, status_colours(table.columns), ax, title="Final status by payment method")
    if table.empty:
        return ax
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("share of the method's orders")
    _legend_outside(ax, "status")
    return ax


def plot_time_to_final(times: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """``analysis.time_to_final``: a dot per order at its time to final status, coloured by that status."""
    names = sorted(times["method"].unique())
    ax = _axes(len(names), ax)
    if not names:
        return _nothing(ax, "Time to final status")
    rows = {name: len(names) - 1 - index for index, name in enumerate(names)}  # first method on top
    for status, group in times.groupby("status", sort=False):
        ax.scatter(group["seconds"], group["method"].map(rows), color=status_colour(status), label=status, s=28,
                   alpha=0.85, zorder=3)  # fmt: skip
    ax.set_yticks(list(rows.values()), list(rows))
    ax.set_xscale("symlog", linthresh=1.0)  # seconds to days on one axis; 0 s (instant) stays on it
    longest = float(times["seconds"].max()) if len(times) else 0.0
    ax.set_xlim(0, max(10.0, longest) * 3)  # room for the dots at the far end
    ax.set_xlabel("seconds from creation to final status (log scale)")
    ax.set_title("Time to final status")
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: list(STATUS_COLOURS).index(labels[i]) if labels[i] in
                   STATUS_COLOURS else len(STATUS_COLOURS))  # fmt: skip
    ax.legend([handles[i] for i in order], [labels[i] for i in order], title="status", loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)  # fmt: skip
    return ax


def plot_webhook_attempts(summary: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """``analysis.webhook_summary``: per method, the attempts accepted first time, rejected, and duplicated."""
    accepted = summary["attempts"] - summary["rejected"] - summary["duplicates"]
    table = pd.DataFrame({"accepted": accepted, "rejected": summary["rejected"], "duplicate": summary["duplicates"]})
    colours = [STATUS_COLOURS["completed"], STATUS_COLOURS["declined"], STATUS_COLOURS["uncleared"]]
    ax = _bars(table, colours, ax, title="Webhook attempts by payment method")
    if table.empty:
        return ax
    ax.set_xlabel("notifications received")
    _legend_outside(ax, "attempt")
    return ax


def plot_refunds_and_costs(table: pd.DataFrame) -> tuple[Axes, Axes]:
    """``analysis.refunds_and_costs``: per method and currency, the amount kept and refunded; beside it, the fees.

    Two panels sharing the methods, since fees are cents where payments are euros.
    """
    import matplotlib.pyplot as plt

    labels = [f"{method} ({currency})" for method, currency in table.index]
    money = pd.DataFrame({"kept": table["paid_amount"] - table["refunded"], "refunded": table["refunded"]})
    money.index = labels
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(10, max(2.5, 1.2 + _ROW * len(labels))), sharey=True, width_ratios=(3, 1.3), layout="constrained"
    )
    _bars(money, [STATUS_COLOURS["completed"], STATUS_COLOURS["refunded"]], left)
    if money.empty:
        _nothing(right, None)
        return left, right
    left.set_xlabel("paid, in currency units")
    left.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, frameon=False, fontsize=9)  # above the bars
    fees = pd.Series(table["fees"].to_numpy(), index=labels)
    fees.iloc[::-1].plot.barh(color=STATUS_COLOURS["uncleared"], width=0.8, ax=right)
    right.set_xlabel("fees, in currency units")
    figure.suptitle("Paid, refunded and fees by payment method")
    return left, right
