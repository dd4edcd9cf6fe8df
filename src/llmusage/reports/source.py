"""Where reports read from: the Parquet lake, through an in-memory DuckDB holding the warehouse's views.

Freshness: every report is "as of the last extract". Spend logs written to PostgreSQL after it are not
in the lake and not in any report until `llmusage extract` runs again (the demo and the schedule do);
reports never mix the lake with PostgreSQL, so two reports of the same extract always agree. Each report
says how far its data goes: `Freshness.data_through` is the latest event time (the request's time) in the
lake and `extracted_at` when that partition was written (both from `lake/_state/spend_logs.json`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from llmusage.errors import LlmusageError
from llmusage.lake.layout import DIM_TABLES, missing_dims, spend_log_partitions
from llmusage.lake.state import LakeState
from llmusage.lake.warehouse import definitions, quote_literal


@dataclass(frozen=True)
class Freshness:
    first_day: date
    last_day: date
    data_through: datetime | None  # latest event time in the lake (naive UTC)
    extracted_at: datetime | None  # when the newest partition was written (naive UTC)

    def note(self) -> str:
        through = f"{self.data_through:%Y-%m-%d %H:%M} UTC" if self.data_through else str(self.last_day)
        when = f", extracted {self.extracted_at:%Y-%m-%d %H:%M} UTC" if self.extracted_at else ""
        return f"as of the last extract: logs through {through}{when}; later logs need `llmusage extract`"


def freshness(lake_dir: Path) -> Freshness:
    partitions = spend_log_partitions(lake_dir)
    if not partitions:
        raise LlmusageError(f"the lake in {lake_dir} has no spend logs; run `llmusage extract` first")
    state = LakeState.load(lake_dir)
    through = [r.max_created_at for r in state.partitions.values() if r.max_created_at]
    extracted = [r.extracted_at for r in state.partitions.values() if r.extracted_at]
    extracted_at = datetime.fromisoformat(max(extracted)) if extracted else None
    return Freshness(
        first_day=min(partitions),
        last_day=max(partitions),
        data_through=datetime.fromisoformat(max(through)) if through else None,
        extracted_at=extracted_at,
    )


REPORT_VIEWS = ("spend_logs", *DIM_TABLES, "spend_lines")
"""The warehouse views reports read (created in file order); the others are for SQL tools."""


@contextmanager
def lake_connection(lake_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the warehouse views in REPORT_VIEWS over `lake_dir`."""
    freshness(lake_dir)  # a clear error when there is nothing to read
    missing = missing_dims(lake_dir)
    if missing:
        raise LlmusageError(f"the lake has no snapshot of {', '.join(missing)}; run `llmusage extract` first")
    duck = duckdb.connect()
    try:
        duck.execute("SET TimeZone = 'UTC'")
        lake = quote_literal(str(lake_dir.absolute()))
        for name, kind, text in definitions():
            if kind == "view" and name in REPORT_VIEWS:
                duck.execute(f"CREATE VIEW {name} AS {text.replace('{lake}', lake)}")
        yield duck
    finally:
        duck.close()
