"""The shape every report returns: a polars DataFrame plus what a reader needs around it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

MONEY_COLUMNS = frozenset(
    {"spend", "ledger_spend", "recorded_spend", "drift", "max_budget", "baseline", "month_spend",
     "projected_month_spend", "window_spend", "projected_window_spend", "headroom", "daily_rate",
     "spend_above_baseline"}
)  # fmt: skip
SHARE_COLUMNS = frozenset({"share", "utilization", "projected_utilization"})


@dataclass
class Report:
    """`frame` holds the rows (sorted); `totals` the totals row's values by column, when there is one."""

    name: str
    title: str
    frame: pl.DataFrame
    totals: Mapping[str, object] | None = None
    notes: list[str] = field(default_factory=list)
    empty_message: str = "no rows"

    @property
    def empty(self) -> bool:
        return self.frame.height == 0


def parse_sort(text: str, columns: list[str]) -> list[tuple[str, bool]]:
    """`"spend"`, `"-spend"` (descending), `"team,-spend"` -> [(column, descending)], checked against
    the report's columns (an unknown one is an error naming the nearest)."""
    import difflib

    from llmusage.errors import LlmusageError

    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("+-").strip()
        if name not in columns:
            near = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(near)}?" if near else f" (columns: {', '.join(columns)})"
            raise LlmusageError(f"--sort: no column {name!r}{hint}")
        keys.append((name, descending))
    if not keys:
        raise LlmusageError("--sort needs a column name (prefix it with - for descending)")
    return keys


def arrange(report: Report, sort: str | None = None, limit: int | None = None) -> Report:
    """`--sort` and `--limit` for any tabular report: re-sort the rows (nulls last) and keep the first
    `limit`; the totals row, when there is one, still covers every row, and a note says how many are cut."""
    from llmusage.errors import LlmusageError

    if sort:
        keys = parse_sort(sort, report.frame.columns)
        report.frame = report.frame.sort(
            [k for k, _ in keys], descending=[d for _, d in keys], nulls_last=True, maintain_order=True
        )
    if limit is not None:
        if limit < 1:
            raise LlmusageError(f"--limit must be at least 1, got {limit}")
        hidden = report.frame.height - limit
        report.frame = report.frame.head(limit)
        if hidden > 0:
            covers = "; the totals row covers all of them" if report.totals is not None else ""
            report.notes.append(f"{hidden} more not shown (--limit {limit}){covers}")
    return report
