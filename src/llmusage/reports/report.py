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
