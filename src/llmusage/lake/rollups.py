"""Daily rollups of the lake: `lake/rollups/spend_daily/date=YYYY-MM-DD/part-0.parquet`, one file per day.

Each day is rebuilt whole from that day's spend log partition with the warehouse's own query
(`sql/warehouse/30_spend_daily.sql`, over a `spend_logs` view of that one day),
written aside and renamed into place, so a re-run is idempotent and a crash leaves the previous file.
A day without logs has no rollup file (an old one is removed). Each rollup records a signature of the
partition files it was built from (names, sizes, modification times), so `current_spend_daily` can tell
whether it still describes the partition; reconciliation uses current rollups instead of the raw logs.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from llmusage.lake.layout import aside_path, partition_files, spend_daily_path
from llmusage.sqlfiles import load


@dataclass(frozen=True)
class RollupResult:
    day: date
    rows: int
    requests: int
    spend: float
    path: Path | None


SIGNATURE_KEY = b"llmusage.source"


def source_signature(files: list[Path]) -> bytes:
    """What identifies a partition's content cheaply: its files' names, sizes and modification times."""
    parts = []
    for path in files:
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest().encode()


def current_spend_daily(lake_dir: Path, day: date) -> Path | None:
    """The day's rollup if it was built from the partition as it is now, else None."""
    target = spend_daily_path(lake_dir, day)
    files = partition_files(lake_dir, day)
    if not files or not target.exists():
        return None
    try:
        recorded = (pq.read_schema(target).metadata or {}).get(SIGNATURE_KEY)
        return target if recorded == source_signature(files) else None
    except (OSError, FileNotFoundError):
        return None  # replaced or removed under us: not current


def ensure_spend_daily(lake_dir: Path, day: date) -> Path | None:
    """A current rollup of the day, built if missing or stale; None when the day has no logs."""
    return current_spend_daily(lake_dir, day) or build_spend_daily(lake_dir, day).path


def build_spend_daily(lake_dir: Path, day: date) -> RollupResult:
    """Rebuild one day's rollup from its spend log partition."""
    target = spend_daily_path(lake_dir, day)
    sources = partition_files(lake_dir, day)
    signature = source_signature(sources) if sources else b""
    files = [str(p) for p in sources]
    if not files:
        target.unlink(missing_ok=True)
        return RollupResult(day=day, rows=0, requests=0, spend=0.0, path=None)
    with duckdb.connect() as duck:
        duck.read_parquet(files, hive_partitioning=True).create_view("spend_logs")
        duck.execute("SET enable_progress_bar = false")
        table = duck.sql(load("warehouse/30_spend_daily.sql")).to_arrow_table()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), SIGNATURE_KEY: signature})
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = aside_path(target)
    pq.write_table(table, aside, compression="zstd")
    os.replace(aside, target)
    return RollupResult(
        day=day,
        rows=table.num_rows,
        requests=int(sum(table.column("requests").to_pylist())),
        spend=math.fsum(v for v in table.column("spend").to_pylist() if v is not None),
        path=target,
    )
