"""Deleting verified days of spend logs from PostgreSQL in small batches, one record per day pruned.

How it runs (`retention`):
1. Under the lake's writer lock (`lake/lock.py`, so no extract rewrites a partition meanwhile), the plan
   (`plan.py`) is made and every day it lets go is marked `pruned_at` in the lake's state: from then on the
   extract never rewrites or removes that partition (it is the day's only complete copy). The lock is
   released before any row is deleted, so ingest is held up only for the plan.
2. Day by day, the request ids of the day's lake partition are read in batches of `batch_size` and each
   batch is deleted by primary key, restricted to the day's event time (`sources/<flavour>/
   spend_logs_delete_batch.sql`), one short autocommitted transaction per DELETE: row locks on those rows
   only, no table lock beyond ROW EXCLUSIVE, no table rewrite, no VACUUM FULL (autovacuum makes the space
   reusable; the file does not shrink). A batch gives up after `lock_timeout` rather than queue behind a
   writer. A row the partition does not hold (a late log committed after the extract) is never deleted:
   it stays, and is reported as `rows_left`.
3. One row per day pruned goes into `llmusage.spend_log_prunes` (rows and spend deleted, DELETE
   transactions, what the lake holds, what is left).

A run that stops half-way (an error, a kill) leaves the day marked; the next run resumes it (`RESUME`).
On a LiteLLM database only `LiteLLM_SpendLogs` rows are deleted: LiteLLM's counters (`spend`,
`total_spend`) and daily spend tables are not touched (docs/operations.md, "Retention").
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
from psycopg.types.json import Jsonb

from llmusage.lake.layout import partition_files
from llmusage.lake.lock import lake_lock
from llmusage.lake.state import LakeState
from llmusage.pg import migrations
from llmusage.pg.connect import connect
from llmusage.retention.plan import DayPlan, RetentionOptions, RetentionPlan, day_totals, make_plan
from llmusage.sources.spend_logs import SpendLogSource, spend_log_source
from llmusage.sqlfiles import load


@dataclass(frozen=True)
class DayResult:
    day: date
    rows_deleted: int
    spend_deleted: float
    batches: int  # DELETE transactions
    rows_left: int  # the day's rows still in PostgreSQL (not in the lake partition)


@dataclass
class RetentionReport:
    plan: RetentionPlan
    applied: bool
    pruned: list[DayResult] = field(default_factory=list)

    @property
    def rows_deleted(self) -> int:
        return sum(d.rows_deleted for d in self.pruned)

    @property
    def spend_deleted(self) -> float:
        return math.fsum(d.spend_deleted for d in self.pruned)

    @property
    def batches(self) -> int:
        return sum(d.batches for d in self.pruned)


def retention(url: str, lake_dir: Path, options: RetentionOptions) -> RetentionReport:
    """The plan (a dry run), or with `options.apply` the plan carried out (see the module docstring)."""
    options.validate()
    with connect(url, autocommit=True) as conn:
        source = spend_log_source(conn)
        as_of = options.as_of or conn.execute(load("retention/today.sql")).fetchone()[0]
        if not options.apply:
            plan = make_plan(conn, source, lake_dir, LakeState.load(lake_dir), options.keep_days, as_of)
            return RetentionReport(plan, applied=False)
        migrations.check_current(conn)  # llmusage.spend_log_prunes must exist before anything is deleted
        started = datetime.now(UTC)
        with lake_lock(lake_dir):
            state = LakeState.load(lake_dir)
            plan = make_plan(conn, source, lake_dir, state, options.keep_days, as_of)
            for day in plan.deleting():
                record = state.get(day.day)
                if record is not None and record.pruned_at is None:
                    state.mark_pruned(day.day, record, started)
        conn.execute(
            load("retention/session.sql"),
            {"lock_timeout": options.lock_timeout, "statement_timeout": options.statement_timeout},
        )
        report = RetentionReport(plan, applied=True)
        for day in plan.deleting():
            result = _prune_day(conn, source, lake_dir, day, options.batch_size)
            if result.rows_deleted:
                _record(conn, plan, day, result, options, started)
            report.pruned.append(result)
    return report


def _prune_day(
    conn: psycopg.Connection, source: SpendLogSource, lake_dir: Path, day: DayPlan, batch_size: int
) -> DayResult:
    since = datetime.combine(day.day, time())
    bounds = {"since": since, "until": since + timedelta(days=1)}
    query = source.query("spend_logs_delete_batch")
    rows, sums, batches = 0, [], 0
    for ids in partition_ids(lake_dir, day.day, batch_size):
        n_rows, spend = conn.execute(query, {**bounds, "ids": ids}).fetchone() or (0, 0.0)
        batches += 1
        rows += int(n_rows)
        sums.append(float(spend))
    left, _ = day_totals(conn, source, day.day)
    return DayResult(day.day, rows, math.fsum(sums), batches, left)


def partition_ids(lake_dir: Path, day: date, batch_size: int) -> Iterator[list[str]]:
    """The request ids of a day's partition, `batch_size` at a time (memory bounded by the batch)."""
    for path in partition_files(lake_dir, day):
        for batch in pq.ParquetFile(path).iter_batches(columns=["request_id"], batch_size=batch_size):
            ids = [i for i in batch.column(0).to_pylist() if i is not None]
            if ids:
                yield ids


def _record(
    conn: psycopg.Connection,
    plan: RetentionPlan,
    day: DayPlan,
    result: DayResult,
    options: RetentionOptions,
    started: datetime,
) -> None:
    conn.execute(
        load("retention/prune_record.sql"),
        {
            "day": day.day,
            "flavour": plan.flavour.value,
            "keep_days": plan.keep_days,
            "started_at": started,
            "rows_deleted": result.rows_deleted,
            "spend_deleted": result.spend_deleted,
            "batches": result.batches,
            "batch_size": options.batch_size,
            "lake_rows": day.lake_rows or 0,
            "lake_spend": day.lake_spend or 0.0,
            "rows_left": result.rows_left,
            "detail": Jsonb({"verdict": day.verdict.value, "pg_rows_before": day.pg_rows}),
        },
    )
