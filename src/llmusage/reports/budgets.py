"""`report budgets` and `report drift`: reconciliation's entities, shaped for reading.

Both need PostgreSQL (the `spend` and `max_budget` columns are there) and read the lake plus the logs
written since its last day, exactly as `llmusage reconcile` does; they never write anything back.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from llmusage.reconcile import ReconcileOptions, Reconciliation, reconcile
from llmusage.reports.report import Report

BUDGET_COLUMNS = [
    "entity_type", "name", "status", "ledger_spend", "max_budget", "utilization", "budget_duration",
    "first_exceeded_at", "blocked", "flagged", "entity_id",
]  # fmt: skip
DRIFT_COLUMNS = ["entity_type", "name", "recorded_spend", "ledger_spend", "drift", "status", "entity_id"]


def _named(entities: pl.DataFrame) -> pl.DataFrame:
    """Keys by alias and hash prefix, never the hash alone."""
    prefix = pl.col("entity_id").str.slice(0, 8)
    is_key = pl.col("entity_type") == "key"
    bare = pl.col("name") == pl.col("entity_id")
    return entities.with_columns(
        name=pl.when(is_key & bare)
        .then(pl.lit("(no alias) (") + prefix + pl.lit(")"))
        .when(is_key)
        .then(pl.col("name") + pl.lit(" (") + prefix + pl.lit(")"))
        .otherwise(pl.col("name")),
        entity_id=pl.when(is_key).then(prefix).otherwise(pl.col("entity_id")),
    )


def _source(result: Reconciliation) -> str:
    if result.cutoff is None:
        return f"as of {result.as_of:%Y-%m-%d %H:%M} UTC, from PostgreSQL (the lake is empty)"
    return f"as of {result.as_of:%Y-%m-%d %H:%M} UTC: lake before {result.cutoff}, PostgreSQL from it on"


def budgets_report(
    url: str, lake_dir: Path, threshold: float = 0.8, with_budget_only: bool = False
) -> Report:
    """Every key, user, team and organization with its status, worst first (exceeded, warning, ...)."""
    result = reconcile(url, lake_dir, ReconcileOptions(threshold=threshold))
    frame = _named(result.entities)
    if with_budget_only:
        frame = frame.filter(pl.col("max_budget").is_not_null() | (pl.col("status") == "orphaned"))
    counts = result.entities.group_by("status").len().sort("status")
    return Report(
        name="budgets",
        title=f"budgets, worst first (warning at {threshold:.0%})",
        frame=frame.select(BUDGET_COLUMNS),
        notes=[_source(result), ", ".join(f"{n} {s}" for s, n in counts.iter_rows())],
        empty_message="no entities",
    )


def budgets(url: str, lake_dir: Path, threshold: float = 0.8) -> pl.DataFrame:
    return budgets_report(url, lake_dir, threshold).frame


def drift_report(url: str, lake_dir: Path) -> Report:
    """Entities whose recorded spend differs from their logs, largest difference first."""
    result = reconcile(url, lake_dir)
    frame = (
        _named(result.entities)
        .filter(~pl.col("drift_ok"))
        .sort([pl.col("drift").abs(), "name"], descending=[True, False])
        .select(DRIFT_COLUMNS)
    )
    return Report(
        name="drift",
        title="drift: recorded spend minus the spend of the logs",
        frame=frame,
        totals={"drift": float(frame["drift"].sum() or 0.0)} if frame.height else None,
        notes=[_source(result)],
        empty_message="no drift: every spend column equals its logs",
    )


def drift(url: str, lake_dir: Path) -> pl.DataFrame:
    return drift_report(url, lake_dir).frame
