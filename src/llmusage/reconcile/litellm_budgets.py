"""The ledgers of LiteLLM's end-user, tag and team-membership budgets (`llmusage.entities.LITELLM_BUDGET_ONLY`).

Keys, users, teams and organizations are summed at the ledger's grain, through the lake's daily rollups
(`compute.py`). These three kinds are not in that grain (a request carries any number of tags), so their
ledgers are read log by log: the lake's files from the first day of the earliest current period up to the
cutoff (a lifetime budget reads the whole lake), their rows before the cutoff, and PostgreSQL's logs from
the cutoff on, for these entities only, in reconciliation's snapshot. Only entities with a budget are read,
and only a few columns of their periods' logs.

A log counts for its end user, for each distinct tag of its `request_tags` and for its user in its team, as
LiteLLM charges them. The instant a budget was first crossed comes from the same pass: the running sum of
the period's logs in event time, compared as LiteLLM compares (`>` for end users and tags, `>=` for
team memberships; `strict` here).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from llmusage.lake.layout import PARQUET_GLOB
from llmusage.reconcile.snapshot import Snapshot
from llmusage.sqlfiles import load

LEDGER_SCHEMA = {
    "entity_type": pl.String,
    "entity_id": pl.String,
    "ledger_spend": pl.Float64,
    "requests": pl.Int64,
    "top_models": pl.List(pl.Struct({"model": pl.String, "spend": pl.Float64})),
    "first_exceeded_at": pl.Datetime("us"),
}
_WINDOWS = pa.schema(
    [
        ("entity_type", pa.string()),
        ("entity_id", pa.string()),
        ("window_start", pa.timestamp("us")),
        ("max_budget", pa.float64()),
        ("strict", pa.bool_()),
    ]
)


def budget_only_ledger(
    duck: duckdb.DuckDBPyConnection,
    snapshot: Snapshot,
    windows: dict[tuple[str, str], tuple[str, datetime]],
    partitions: dict[date, Path],
    strict: Iterable[str],
    tolerances: dict[str, float],
) -> pl.DataFrame:
    """LEDGER_SCHEMA rows of every budgeted LITELLM_BUDGET_ONLY entity with logs in its period. Needs the
    `bounds` table (the cutoff) registered on `duck`; `windows` as compute.py builds them."""
    entities = [(label, row) for label, rows in snapshot.budget_only.items() for row in rows]
    if not entities:
        return pl.DataFrame(schema=LEDGER_SCHEMA)
    strict = set(strict)
    starts = [windows.get((label, row["entity_id"]), (None, None))[1] for label, row in entities]
    duck.register(
        "budget_only_windows",
        pa.table(
            {
                "entity_type": [label for label, _ in entities],
                "entity_id": [row["entity_id"] for _, row in entities],
                "window_start": starts,
                "max_budget": [row["max_budget"] for _, row in entities],
                "strict": [label in strict for label, _ in entities],
            },
            schema=_WINDOWS,
        ),
    )
    earliest = None if any(start is None for start in starts) else min(starts).date()
    cutoff_day = snapshot.cutoff.date()
    files = [
        str(f)
        for day in sorted(partitions)
        if (earliest is None or day >= earliest) and day <= cutoff_day
        for f in sorted(partitions[day].glob(PARQUET_GLOB))
    ]
    ids: dict[str, set[str]] = {}
    for label, row in entities:
        ids.setdefault(label, set()).add(row["entity_id"])
    duck.register("budget_only_tail", snapshot.budget_only_tail(ids))
    if files:
        duck.read_parquet(files, hive_partitioning=True, union_by_name=True).create_view(
            "budget_only_files", replace=True
        )
        duck.execute(load("reconcile/duckdb/budget_only_logs.sql"))
    else:
        duck.execute(load("reconcile/duckdb/budget_only_logs_tail_only.sql"))
    ledger = duck.sql(load("reconcile/duckdb/budget_only_ledger.sql"), params=tolerances).pl()
    return ledger.cast({"first_exceeded_at": pl.Datetime("us")}).select(list(LEDGER_SCHEMA))
