"""The lake's layout: every path under the lake directory, defined once.

```
lake/
  .extract.lock                                      the writer lock (lock.py)
  spend_logs/date=YYYY-MM-DD/part-0.parquet          one UTC day of spend logs (extract.py)
  rollups/spend_daily/date=YYYY-MM-DD/part-0.parquet that day's rollup (rollups.py)
  dims/<table>.parquet                               one snapshot per DIM_TABLES entry (dims.py)
  _state/spend_logs.json                             what each partition holds (state.py)
```

A file is replaced by writing `.<name>.<pid>.tmp` beside it and renaming that over it (`aside_path`); an
extract deletes the aside files a crashed run left (`STALE_PARTITION_ASIDES`).

The warehouse's SQL (`sql/warehouse/*.sql`) spells the same paths relative to `{lake}`
(`{lake} || '/spend_logs/date=*/*.parquet'`, `{lake} || '/dims/keys.parquet'`): the lake directory goes in
as a quoted string literal substituted for `{lake}` (DuckDB binds no parameters in CREATE VIEW), see
`lake/warehouse.py` and `reports/source.py`. Rollups, the quality suite and reconciliation read days through
a view over an explicit list of their files (`partition_files`).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

PART_FILE = "part-0.parquet"
"""The one file of a day partition (spend logs and rollups alike)."""
DATE_KEY = "date="
"""The Hive-style key of a day partition's directory name: `date=YYYY-MM-DD`."""
PARQUET_GLOB = "*.parquet"
"""The Parquet files of a partition directory (aside files start with a dot and end in .tmp)."""
SPEND_LOG_FILES = f"{DATE_KEY}*/{PARQUET_GLOB}"
"""Every spend log file, relative to `spend_logs_dir`."""
STALE_PARTITION_ASIDES = f"{DATE_KEY}*/.{PART_FILE}.*.tmp"
"""Aside files of spend log partitions (any process), relative to `spend_logs_dir`."""

DIM_TABLES = ("keys", "users", "teams", "organizations", "models")
"""The operational tables snapshotted whole into `dims/<table>.parquet` (also the warehouse's views of them)."""


def aside_path(target: Path) -> Path:
    """Where `target` is written before the rename that replaces it: `.<name>.<pid>.tmp` beside it."""
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def lock_path(lake_dir: Path) -> Path:
    return lake_dir / ".extract.lock"


def spend_logs_dir(lake_dir: Path) -> Path:
    return lake_dir / "spend_logs"


def _day_dir(parent: Path, day: date) -> Path:
    return parent / f"{DATE_KEY}{day.isoformat()}"


def partition_dir(lake_dir: Path, day: date) -> Path:
    """The directory of one UTC day of spend logs."""
    return _day_dir(spend_logs_dir(lake_dir), day)


def partition_path(lake_dir: Path, day: date) -> Path:
    """The file of one UTC day of spend logs."""
    return partition_dir(lake_dir, day) / PART_FILE


def partition_files(lake_dir: Path, day: date) -> list[Path]:
    """The Parquet files of one day's spend log partition, sorted (none when the day has no partition)."""
    return sorted(partition_dir(lake_dir, day).glob(PARQUET_GLOB))


def partition_day(directory: Path) -> date | None:
    """The day a `date=YYYY-MM-DD` directory holds; None for any other name."""
    if not directory.name.startswith(DATE_KEY):
        return None
    try:
        return date.fromisoformat(directory.name.removeprefix(DATE_KEY))
    except ValueError:
        return None


def spend_log_partitions(lake_dir: Path) -> dict[date, Path]:
    """The lake's day partitions that hold a Parquet file, by day (aside files start with a dot)."""
    root = spend_logs_dir(lake_dir)
    found: dict[date, Path] = {}
    if not root.is_dir():
        return found
    for part in root.glob(f"{DATE_KEY}*"):
        day = partition_day(part)
        if day is not None and any(part.glob(PARQUET_GLOB)):
            found[day] = part
    return found


def rollups_dir(lake_dir: Path) -> Path:
    return lake_dir / "rollups"


def spend_daily_dir(lake_dir: Path) -> Path:
    return rollups_dir(lake_dir) / "spend_daily"


def spend_daily_path(lake_dir: Path, day: date) -> Path:
    """The file of one UTC day's spend rollup."""
    return _day_dir(spend_daily_dir(lake_dir), day) / PART_FILE


def dims_dir(lake_dir: Path) -> Path:
    return lake_dir / "dims"


def dim_path(lake_dir: Path, table: str) -> Path:
    """The snapshot of one of DIM_TABLES."""
    return dims_dir(lake_dir) / f"{table}.parquet"


def flavour_path(lake_dir: Path) -> Path:
    """The flavour of the database the snapshots came from (`llmusage` or `litellm`), one line of text."""
    return dims_dir(lake_dir) / "flavour.txt"


def missing_dims(lake_dir: Path) -> list[str]:
    """The DIM_TABLES without a snapshot in the lake."""
    return [t for t in DIM_TABLES if not dim_path(lake_dir, t).exists()]


def state_dir(lake_dir: Path) -> Path:
    return lake_dir / "_state"


def state_path(lake_dir: Path) -> Path:
    """The record of what each spend log partition holds (state.py)."""
    return state_dir(lake_dir) / "spend_logs.json"
