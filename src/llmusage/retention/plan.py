"""Which days of spend logs retention may delete from PostgreSQL, and why the others stay.

A day (UTC, of event time: `created_at` on the llmusage flavour, `"startTime"` on LiteLLM's, through
`llmusage.sources`) is a candidate when it is older than `keep_days` (it ends at or before midnight UTC
`keep_days` days before today, by the database's clock) and PostgreSQL still has rows of it. It may be
pruned only when all of these hold:

- it is settled in the lake: before the day of the reconciliation's cutoff (`reconcile.compute.lake_cutoff`,
  the lake's newest row minus the lag window), so reconciliation, which reads PostgreSQL only from the
  cutoff on, never needed these rows from PostgreSQL;
- the lake has its partition and the lake's state has a record of it (the extract wrote it);
- the partition, read now, holds as many rows as PostgreSQL has for the day and the same spend sum (within
  the reconciliation's float tolerance).

A day retention has begun to prune (`pruned_at` in the lake's state) is resumed whatever PostgreSQL still
holds: the rows that remain are deleted only if the partition has their request ids (`prune.py` deletes by
the partition's ids), so a row the lake does not have is never deleted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path

import psycopg
import pyarrow.parquet as pq

from llmusage.errors import LlmusageError
from llmusage.lake.layout import partition_files, spend_log_partitions
from llmusage.lake.state import LakeState
from llmusage.money import usd
from llmusage.reconcile.compute import lake_cutoff
from llmusage.reconcile.statuses import ABS_TOLERANCE, TOLERANCE
from llmusage.sources.detect import Flavour
from llmusage.sources.spend_logs import SpendLogSource

DEFAULT_BATCH_SIZE = 5_000
"""Rows per DELETE (one short transaction each)."""
_BEGINNING = datetime(1, 1, 1)


@dataclass(frozen=True)
class RetentionOptions:
    keep_days: int
    apply: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    as_of: datetime | None = None  # naive UTC; default: the database's clock
    lock_timeout: str = "5s"  # a batch gives up rather than wait longer behind another lock
    statement_timeout: str = "120s"

    def validate(self) -> None:
        if isinstance(self.keep_days, bool) or not isinstance(self.keep_days, int) or self.keep_days < 1:
            raise LlmusageError(
                f"--keep-days must be a whole number of days, at least 1, got {self.keep_days!r}"
            )
        if self.batch_size < 1:
            raise LlmusageError(f"--batch-size must be at least 1, got {self.batch_size}")


class Verdict(StrEnum):
    PRUNE = "prune"  # verified: the lake holds exactly what PostgreSQL holds
    RESUME = "resume"  # retention began on this day before: delete what the lake holds
    NOT_IN_LAKE = "not in the lake"
    DISAGREES = "lake disagrees"
    NOT_SETTLED = "not settled"


@dataclass(frozen=True)
class DayPlan:
    day: date
    pg_rows: int
    pg_spend: float
    verdict: Verdict
    reason: str = ""
    lake_rows: int | None = None
    lake_spend: float | None = None

    @property
    def deletes(self) -> bool:
        return self.verdict in (Verdict.PRUNE, Verdict.RESUME)


@dataclass
class RetentionPlan:
    flavour: Flavour
    keep_days: int
    as_of: datetime
    before: datetime  # logs with event time before this instant are old enough
    settled_before: date | None  # the lake is complete before this day (None: no lake)
    days: list[DayPlan] = field(default_factory=list)

    def deleting(self) -> list[DayPlan]:
        return [d for d in self.days if d.deletes]

    def skipped(self) -> list[DayPlan]:
        return [d for d in self.days if not d.deletes]


def spend_equal(a: float, b: float) -> bool:
    """Two spend sums equal within the reconciliation's tolerance (floats summed in different orders)."""
    return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=ABS_TOLERANCE)


def lake_totals(lake_dir: Path, day: date) -> tuple[int, float] | None:
    """Rows and spend sum of the day's partition, read from its files now (None: no partition)."""
    files = partition_files(lake_dir, day)
    if not files:
        return None
    rows = 0
    sums: list[float] = []
    for path in files:
        parquet = pq.ParquetFile(path)
        rows += parquet.metadata.num_rows
        for batch in parquet.iter_batches(columns=["spend"], batch_size=65_536):
            sums.extend(v for v in batch.column(0).to_pylist() if v is not None)
    return rows, math.fsum(sums)


def make_plan(
    conn: psycopg.Connection,
    source: SpendLogSource,
    lake_dir: Path,
    state: LakeState,
    keep_days: int,
    as_of: datetime,
) -> RetentionPlan:
    """Every day of PostgreSQL older than `keep_days`, with its verdict (see the module docstring)."""
    before = datetime.combine(as_of.date() - timedelta(days=keep_days), time())
    cutoff = lake_cutoff(lake_dir, spend_log_partitions(lake_dir))
    settled = cutoff.date() if cutoff else None
    totals = conn.execute(source.query("spend_logs_day_totals"), {"since": _BEGINNING, "until": before})
    plan = RetentionPlan(source.flavour, keep_days, as_of, before, settled)
    for day, n_rows, spend in totals:
        plan.days.append(_judge(lake_dir, state, settled, day, int(n_rows), float(spend)))
    return plan


def day_totals(conn: psycopg.Connection, source: SpendLogSource, day: date) -> tuple[int, float]:
    """PostgreSQL's rows and spend sum for one day (0 rows when it has none)."""
    since = datetime.combine(day, time())
    found = conn.execute(
        source.query("spend_logs_day_totals"), {"since": since, "until": since + timedelta(days=1)}
    ).fetchall()
    return (int(found[0][1]), float(found[0][2])) if found else (0, 0.0)


def _judge(
    lake_dir: Path, state: LakeState, settled: date | None, day: date, pg_rows: int, pg_spend: float
) -> DayPlan:
    here = {"day": day, "pg_rows": pg_rows, "pg_spend": pg_spend}
    if settled is None or day >= settled:
        why = (
            "the lake has no spend logs" if settled is None else f"the lake is complete only before {settled}"
        )
        return DayPlan(**here, verdict=Verdict.NOT_SETTLED, reason=f"{why}; run `llmusage extract` first")
    found = lake_totals(lake_dir, day)
    if found is None or state.get(day) is None:
        reason = "no lake partition" if found is None else "the lake's state has no record of the partition"
        return DayPlan(**here, verdict=Verdict.NOT_IN_LAKE, reason=f"{reason}; extract the day first")
    lake_rows, lake_spend = found
    lake = {"lake_rows": lake_rows, "lake_spend": lake_spend}
    if state.pruned(day):
        reason = "pruned before; deleting what remains of it that the lake holds"
        return DayPlan(**here, **lake, verdict=Verdict.RESUME, reason=reason)
    if lake_rows != pg_rows or not spend_equal(lake_spend, pg_spend):
        reason = (
            f"lake {lake_rows:,} rows, {usd(lake_spend, 6)}; PostgreSQL {pg_rows:,} rows, {usd(pg_spend, 6)}"
        )
        return DayPlan(**here, **lake, verdict=Verdict.DISAGREES, reason=reason)
    return DayPlan(**here, **lake, verdict=Verdict.PRUNE)
