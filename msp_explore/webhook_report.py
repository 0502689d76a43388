"""What ``check_webhook`` found: a table of cases, a Jupyter card, a plain-text table and JSON rows.

A report holds no secret: the API key is kept only masked (``config.mask_key``), and the answers the
endpoint gave have any copy of the key masked before they are stored.
"""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("case", "passed", "expected", "got", "ms")

_GREEN, _RED, _MUTED = "#1a7f37", "#cf222e", "color:#57606a;font-size:12px"
_CARD = (
    "font-family:system-ui,sans-serif;font-size:13px;line-height:1.5;border:1px solid #d0d7de;"
    "border-radius:6px;padding:8px 12px;display:inline-block;min-width:320px;max-width:960px"
)
_CELL = "text-align:left;vertical-align:top;padding:2px 8px;border-top:1px solid #eaeef2"


def _badge(passed: bool, text: str | None = None) -> str:
    colour = _GREEN if passed else _RED
    label = text or ("pass" if passed else "fail")
    style = f"background:{colour};color:#fff;border-radius:10px;padding:1px 8px;font-size:12px"
    return f'<span style="{style}">{escape(label)}</span>'


def _ms(value: int | None) -> str:
    return "" if value is None else f"{value} ms"


class WebhookReport:
    """The verdict on one webhook endpoint: ``.passed``, ``.cases`` (a DataFrame) and a card in Jupyter.

    ``.reachable`` is False when no notification got an HTTP answer at all; ``.problem`` then says why
    in one line. ``.fixes`` maps each failed case to a one-line "how to fix".
    """

    def __init__(
        self,
        url: str,
        method: str,
        *,
        sandbox: str,
        key: str,
        embedded: bool,
        rows: list[dict[str, Any]],
        problem: str | None = None,
    ) -> None:
        self.url = url
        self.method = method
        self.sandbox = sandbox  # the API base the handler must fetch orders from
        self.key = key  # masked: the report never holds the key itself
        self.embedded = embedded
        self.problem = problem
        self._rows = [dict(row) for row in rows]

    @property
    def reachable(self) -> bool:
        return self.problem is None

    @property
    def passed(self) -> bool:
        return self.reachable and all(row["passed"] for row in self._rows)

    @property
    def cases(self) -> pd.DataFrame:
        """One row per case: case, passed, expected, got (status and answer, or the error), ms."""
        import pandas as pd

        frame = pd.DataFrame([{column: row[column] for column in COLUMNS} for row in self._rows], columns=COLUMNS)
        frame["passed"] = frame["passed"].astype(bool)
        frame["ms"] = frame["ms"].astype("Int64")  # a case that was never sent has no time
        return frame

    @property
    def fixes(self) -> dict[str, str]:
        """How to fix each failed case, in one line."""
        return {row["case"]: row["fix"] for row in self._rows if not row["passed"]}

    def to_json(self) -> str:
        """The case rows as one JSON array (what ``msp-explore check-webhook --json`` prints)."""
        return json.dumps([{column: row[column] for column in COLUMNS} for row in self._rows], ensure_ascii=False)

    def _summary(self) -> str:
        done = sum(row["passed"] for row in self._rows)
        return f"{done} of {len(self._rows)} cases passed"

    def _setup(self) -> str:
        where = "an embedded sandbox, started for this check" if self.embedded else "the sandbox"
        return f"The handler must verify with the API key {self.key} and fetch orders from {where} at {self.sandbox}"

    def to_text(self) -> str:
        """The table as the CLI prints it, with a "how to fix" line under each failure."""
        lines = [f"Webhook check of {self.url} ({self.method}): {self._summary()}", self._setup() + ".", ""]
        width = max(len(row["case"]) for row in self._rows)
        for row in self._rows:
            verdict = "PASS" if row["passed"] else "FAIL"
            ms = _ms(row["ms"])
            lines.append(f"  {verdict}  {row['case']:<{width}}  {row['got']}" + (f"  [{ms}]" if ms else ""))
            if not row["passed"]:
                lines.append(f"  {'':4}  {'':<{width}}  how to fix: {row['fix']}")
        if self.problem:
            lines += ["", self.problem]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (
            f"<div>{_badge(self.passed, 'passed' if self.passed else 'failed')} "
            f"<strong>{escape(self.url)}</strong> ({escape(self.method)}): {escape(self._summary())}</div>"
            f'<div style="{_MUTED}">{escape(self._setup())}.</div>'
        )
        if self.problem:
            head += f'<div style="color:{_RED}">{escape(self.problem)}</div>'
        names = ("", "case", "expected", "got", "ms", "how to fix")
        titles = "".join(f'<th style="{_CELL}">{name}</th>' for name in names)
        body = "".join(
            f'<tr><td style="{_CELL}">{_badge(row["passed"])}</td>'
            f'<td style="{_CELL}"><code>{escape(row["case"])}</code></td>'
            f'<td style="{_CELL}">{escape(row["expected"])}</td>'
            f'<td style="{_CELL}"><code>{escape(row["got"])}</code></td>'
            f'<td style="{_CELL};white-space:nowrap">{escape(_ms(row["ms"]))}</td>'
            f'<td style="{_CELL}">{escape(row["fix"] or "")}</td></tr>'
            for row in self._rows
        )
        table = f'<table style="border-collapse:collapse;margin-top:6px"><tr>{titles}</tr>{body}</table>'
        return f'<div class="msp-webhook-report" style="{_CARD}">{head}{table}</div>'

    def __repr__(self) -> str:
        verdict = "unreachable" if not self.reachable else self._summary()
        return f"<WebhookReport {self.url} {self.method}: {verdict}>"
