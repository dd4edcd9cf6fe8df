"""Daily rollups of the lake: `lake/rollups/spend_daily/date=YYYY-MM-DD/part-0.parquet`, one file per day.

Each day is rebuilt whole from that day's spend log partition with the warehouse's own query
(`sql/warehouse/30_spend_daily.sql`, over a `spend_logs` view of that one day),
written aside and renamed into place, so a re-run is idempotent and a crash leaves the previous file.
A day without logs has no rollup file (an old one is removed).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from llmusage.sqlfiles import load


@dataclass(frozen=True)
class RollupResult:
    day: date
    rows: int
    requests: int
    spend: float
    path: Path | None


def spend_daily_path(lake_dir: Path, day: date) -> Path:
    return lake_dir / "rollups" / "spend_daily" / f"date={day.isoformat()}" / "part-0.parquet"


def build_spend_daily(lake_dir: Path, day: date) -> RollupResult:
    """Rebuild one day's rollup from its spend log partition."""
    target = spend_daily_path(lake_dir, day)
    files = sorted(str(p) for p in (lake_dir / "spend_logs" / f"date={day.isoformat()}").glob("*.parquet"))
    if not files:
        target.unlink(missing_ok=True)
        return RollupResult(day=day, rows=0, requests=0, spend=0.0, path=None)
    with duckdb.connect() as duck:
        duck.read_parquet(files, hive_partitioning=True).create_view("spend_logs")
        table = duck.sql(load("warehouse/30_spend_daily.sql")).to_arrow_table()
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    pq.write_table(table, aside, compression="zstd")
    os.replace(aside, target)
    return RollupResult(
        day=day,
        rows=table.num_rows,
        requests=int(sum(table.column("requests").to_pylist())),
        spend=math.fsum(table.column("spend").to_pylist()),
        path=target,
    )
