"""Computing every entity's ledger, drift, utilization and status in DuckDB.

The ledger is assembled from two sources that never overlap, split at the cutoff: the lake's logs
before it, and PostgreSQL's logs from it on, read in the same snapshot as the `spend` columns
(`snapshot.py`). The cutoff is the lake's newest row minus the extract's lag window (2 h), the point
before which the extract guarantees the lake is complete; a lake without state cuts at the start of
its newest day. So a lake that is behind does not show as drift, while rows the lake lost do.

The settled days enter at the ledger's grain (key, user, team, model, day) through their daily
rollups (`llmusage.lake.rollups`), each rebuilt only when its partition's files changed: the first
reconciliation reads every log once, later ones read a few thousand rows per day. PostgreSQL sums the
tail itself. Ledgers, budget windows, top models and the day a budget was crossed all come from the small
`entity_daily` table; only a window's first day and a crossing day are read again log by log, for the entities
concerned (`edge_*.sql`, `first_exceeded.sql`).

On a LiteLLM database, end users, tags and team memberships with a budget are reconciled too, their
ledgers read log by log (`litellm_budgets.py`); LiteLLM refuses a team, an end user or a tag only above its
budget, everything else at it.

Drift has a cause (`drift_cause`): `retention` when the counter is above the ledger and the period (or the
entity) began before the oldest log anyone still has; `reset_lag` (LiteLLM) when the counter is below the
ledger by no more than the period's first minutes of spend, up to one run of LiteLLM's reset job
(`RESET_JOB_INTERVAL`), which the job can have zeroed; else `unexplained`. Where the cause explains it, the
budget is judged on the counter, as LiteLLM judges it.

Statuses (`exceeded`, `warning`, `ok`, `orphaned`) and the tolerances sums are compared with are in
`statuses.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from llmusage.entities import LITELLM_BUDGET_ONLY
from llmusage.errors import LlmusageError
from llmusage.lake.lag import LAG_WINDOW
from llmusage.lake.layout import PARQUET_GLOB, spend_log_partitions
from llmusage.lake.rollups import ensure_spend_daily
from llmusage.lake.state import LakeState
from llmusage.reconcile.litellm_budgets import budget_only_ledger
from llmusage.reconcile.snapshot import Snapshot, open_snapshot
from llmusage.reconcile.statuses import (
    ABS_TOLERANCE,
    TOLERANCE,
    Windows,
    combine,
    entity_rows,
    strict_kinds,
)
from llmusage.sources.detect import Flavour
from llmusage.sources.periods import RESET_JOB_INTERVAL, period
from llmusage.sqlfiles import load

STATUS_ORDER = {"exceeded": 0, "warning": 1, "orphaned": 2, "ok": 3}


@dataclass(frozen=True)
class ReconcileOptions:
    threshold: float = 0.8
    as_of: datetime | None = None  # naive UTC; default: the database's clock

    def validate(self) -> None:
        if not 0 < self.threshold <= 1:
            raise LlmusageError(f"--threshold must be in (0, 1], got {self.threshold}")


@dataclass
class Reconciliation:
    entities: pl.DataFrame  # one row per entity, worst first (see COLUMNS)
    cutoff: datetime | None  # the lake's logs before it, PostgreSQL's from it on (naive UTC)
    as_of: datetime
    lake_days: int
    tail_rows: int
    flavour: Flavour = Flavour.LLMUSAGE

    def exceeded(self) -> pl.DataFrame:
        return self.entities.filter(pl.col("status") == "exceeded")


def lake_cutoff(lake_dir: Path, partitions: dict[date, Path]) -> datetime | None:
    """Where the lake stops being complete: its newest row minus the extract's lag window (from the
    lake's state), else the start of its newest day; None for an empty lake."""
    if not partitions:
        return None
    newest = max(
        (
            datetime.fromisoformat(record.max_created_at)
            for day, record in LakeState.load(lake_dir).partitions.items()
            if record.max_created_at and date.fromisoformat(day) in partitions
        ),
        default=None,
    )
    start_of_newest_day = datetime.combine(max(partitions), time())
    if newest is None:
        return start_of_newest_day
    return min(newest - LAG_WINDOW, datetime.combine(max(partitions) + timedelta(days=1), time()))


def reconcile(url: str, lake_dir: Path, options: ReconcileOptions | None = None) -> Reconciliation:
    """Reconcile every key, user, team and organization (see the module docstring)."""
    options = options or ReconcileOptions()
    options.validate()
    partitions = spend_log_partitions(lake_dir)
    cutoff = lake_cutoff(lake_dir, partitions)
    cutoff_day = cutoff.date() if cutoff else None
    rollups = [
        p
        for day in sorted(partitions)
        if cutoff_day and day < cutoff_day
        if (p := ensure_spend_daily(lake_dir, day))
    ]
    with open_snapshot(url, cutoff) as snapshot, duckdb.connect() as duck:
        as_of = options.as_of or snapshot.taken_at
        duck.execute("SET TimeZone = 'UTC'")
        duck.execute("SET enable_progress_bar = false")
        windows = _windows(snapshot, as_of)
        _register(duck, snapshot, windows)
        bounds = [cutoff or datetime(1, 1, 1)]
        duck.register(
            "bounds", pa.table({"cutoff": bounds}, schema=pa.schema([("cutoff", pa.timestamp("us"))]))
        )
        if rollups:
            duck.read_parquet([str(p) for p in rollups]).create_view("rollup_files")
            duck.execute(load("reconcile/duckdb/lake_grain.sql"))
        else:
            duck.execute(load("reconcile/duckdb/lake_grain_empty.sql"))
        if cutoff and cutoff_day in partitions and cutoff.time() != time():
            _view_of_files(duck, "cutoff_files", _files(partitions[cutoff_day]))
            duck.execute(load("reconcile/duckdb/partial_grain.sql"))
        else:
            duck.execute(load("reconcile/duckdb/partial_grain_empty.sql"))
        duck.execute(load("reconcile/duckdb/entity_daily.sql"))
        grain_windows = {k: w for k, w in windows.items() if k[0] not in LITELLM_BUDGET_ONLY}
        window_days = {start.date() for _, start in grain_windows.values()}
        _edge_days(duck, window_days, _interest(list(grain_windows)), partitions, cutoff_day, snapshot)
        duck.execute(load("reconcile/duckdb/in_window.sql"))
        ledger = duck.sql(load("reconcile/duckdb/ledger.sql")).pl()
        if snapshot.source.flavour is Flavour.LITELLM:
            seconds = {"seconds": RESET_JOB_INTERVAL.total_seconds()}
            lagged = duck.sql(load("reconcile/duckdb/reset_lag.sql"), params=seconds).pl()
            ledger = ledger.join(lagged, on=["entity_type", "entity_id"], how="left")
        strict = strict_kinds(snapshot)
        tolerances = {"abs_tol": ABS_TOLERANCE, "rel_tol": TOLERANCE}
        others = budget_only_ledger(duck, snapshot, windows, partitions, strict, tolerances)
        ledger = pl.concat([ledger, others.drop("first_exceeded_at")], how="diagonal_relaxed")
        history_start = _history_start(partitions, snapshot)
        entities = combine(snapshot, ledger, options.threshold, windows, history_start)
        crossed = _first_exceeded(duck, entities, partitions, cutoff_day, snapshot)
        others_crossed = others.filter(pl.col("first_exceeded_at").is_not_null()).select(
            "entity_type", "entity_id", "first_exceeded_at"
        )
        found = [frame for frame in (crossed, others_crossed) if frame.height]
        crossed = pl.concat(found, how="vertical_relaxed") if found else pl.DataFrame()
        tail_rows = int(pc.sum(snapshot.tail_grain.column("requests")).as_py() or 0)
        flavour = snapshot.source.flavour
    if crossed.height:
        entities = entities.join(crossed, on=["entity_type", "entity_id"], how="left").with_columns(
            first_exceeded_at=pl.when(pl.col("status") == "exceeded").then(pl.col("first_exceeded_at"))
        )
    else:
        entities = entities.with_columns(first_exceeded_at=pl.lit(None, dtype=pl.Datetime("us")))
    entities = entities.with_columns(
        order=pl.col("status").replace_strict(STATUS_ORDER, return_dtype=pl.Int8)
    ).sort(["order", "utilization", "ledger_spend"], descending=[False, True, True], nulls_last=True)
    return Reconciliation(
        entities=entities.drop("order").select(COLUMNS),
        cutoff=cutoff,
        as_of=as_of,
        lake_days=len(partitions),
        tail_rows=tail_rows,
        flavour=flavour,
    )


COLUMNS = [
    "entity_type",
    "entity_id",
    "name",
    "status",
    "ledger_spend",
    "recorded_spend",
    "drift",
    "drift_ok",
    "drift_cause",
    "max_budget",
    "soft_budget",
    "utilization",
    "first_exceeded_at",
    "requests",
    "top_models",
    "budget_duration",
    "window_start",
    "blocked",
    "flagged",
]


def _history_start(partitions: dict[date, Path], snapshot: Snapshot) -> datetime | None:
    """The oldest log anyone can still read: the lake's first day, else the database's oldest log."""
    oldest = snapshot.oldest_log()
    if partitions:
        first = datetime.combine(min(partitions), time())
        return first if oldest is None else min(first, oldest)
    return oldest


def _files(partition: Path) -> list[str]:
    return [str(p) for p in sorted(partition.glob(PARQUET_GLOB))]


def _view_of_files(duck: duckdb.DuckDBPyConnection, name: str, files: list[str]) -> None:
    """A view over exactly these Parquet files (DuckDB cannot bind parameters in CREATE VIEW)."""
    duck.read_parquet(files, hive_partitioning=True, union_by_name=True).create_view(name, replace=True)


def _interest(entities: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Entity ids by type, from (type, id) pairs."""
    found: dict[str, set[str]] = {}
    for kind, entity in entities:
        found.setdefault(kind, set()).add(entity)
    return found


def _edge_days(
    duck: duckdb.DuckDBPyConnection,
    days: set[date],
    entities: dict[str, set[str]],
    partitions: dict[date, Path],
    cutoff: date | None,
    snapshot: Snapshot,
) -> None:
    """(Re)define `edge_logs` and `edge_entity_logs`: the logs of `days` only, log by log (the lake's files
    up to the cutoff day, their rows before the cutoff; PostgreSQL's rows from the cutoff on, for
    `entities` only). `cutoff` here is the cutoff's day."""
    files = [
        f
        for day in sorted(days)
        if cutoff and day <= cutoff and day in partitions
        for f in _files(partitions[day])
    ]
    tail_days = {day for day in days if cutoff is None or day >= cutoff}
    duck.register("tail_edge", snapshot.tail_logs(tail_days, entities))
    if files:
        _view_of_files(duck, "edge_files", files)
        duck.execute(load("reconcile/duckdb/edge_logs.sql"))
    else:
        duck.execute(load("reconcile/duckdb/edge_logs_tail_only.sql"))
    duck.execute(load("reconcile/duckdb/edge_entity_logs.sql"))


def _windows(snapshot: Snapshot, as_of: datetime) -> Windows:
    """The current budget period of every entity whose budget has one (llmusage.sources.periods)."""
    found: Windows = {}
    litellm = snapshot.source.flavour is Flavour.LITELLM
    for label, row in entity_rows(snapshot):
        window = period(row, litellm, as_of)
        if window:
            found[(label, row["entity_id"])] = window
    return found


def _register(duck: duckdb.DuckDBPyConnection, snapshot: Snapshot, windows: Windows) -> None:
    """Register the tail's grain and the budget windows."""
    duck.register("tail_grain", snapshot.tail_grain)

    duck.register(
        "windows",
        pa.table(
            {
                "entity_type": [kind for kind, _ in windows],
                "entity_id": [entity for _, entity in windows],
                "window_start": [start for _, start in windows.values()],
            },
            schema=pa.schema(
                [
                    ("entity_type", pa.string()),
                    ("entity_id", pa.string()),
                    ("window_start", pa.timestamp("us")),
                ]
            ),
        ),
    )


def _first_exceeded(
    duck: duckdb.DuckDBPyConnection,
    entities: pl.DataFrame,
    partitions: dict[date, Path],
    cutoff: date | None,
    snapshot: Snapshot,
) -> pl.DataFrame:
    exceeded = entities.filter(pl.col("status") == "exceeded").select(
        "entity_type", "entity_id", "max_budget"
    )
    if exceeded.height == 0:
        return pl.DataFrame()
    duck.register("exceeded", exceeded.to_arrow())
    params = {"abs_tol": ABS_TOLERANCE, "rel_tol": TOLERANCE}
    crossings = duck.sql(load("reconcile/duckdb/crossing_days.sql"), params=params).to_arrow_table()
    if crossings.num_rows == 0:
        return pl.DataFrame()
    duck.register("crossings", crossings)
    crossed = list(
        zip(
            crossings.column("entity_type").to_pylist(),
            crossings.column("entity_id").to_pylist(),
            strict=True,
        )
    )
    _edge_days(
        duck, set(crossings.column("day").to_pylist()), _interest(crossed), partitions, cutoff, snapshot
    )
    result = duck.sql(load("reconcile/duckdb/first_exceeded.sql"), params=params).pl()
    return result.with_columns(pl.col("first_exceeded_at").cast(pl.Datetime("us")))


def to_json_rows(entities: pl.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (datetimes as ISO strings)."""
    rows = entities.to_dicts()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = value.isoformat()
    return json.loads(json.dumps(rows, default=str))
