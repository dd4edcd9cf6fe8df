"""Asset checks on the budgets and the lake's freshness (the data-quality suite is in assets/ingest.py)."""

import dagster as dg
import polars as pl

from llmusage.lake.lag import LAG_WINDOW
from pipelines.assets.budgets import preview
from pipelines.resources import LakeResource, PostgresResource
from pipelines.schedules import INGEST_INTERVAL

FRESHNESS_LAG = LAG_WINDOW + INGEST_INTERVAL
"""How far the lake may be behind PostgreSQL: the lag window plus one ingest interval (2 h 15)."""


@dg.asset_check(
    asset="budget_status", description="No key, user, team or organization at or over its budget."
)
def no_budget_exceeded(lake: LakeResource) -> dg.AssetCheckResult:
    from llmusage.reconcile.store import load

    offenders = load(lake.reconcile_dir).exceeded()
    return dg.AssetCheckResult(
        passed=offenders.height == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"exceeded": offenders.height, "offenders": dg.MetadataValue.md(preview(offenders, n=50))},
    )


@dg.asset_check(
    asset="budget_status", description="Recorded spend columns agree with the logs (drift within tolerance)."
)
def spend_drift_within_tolerance(lake: LakeResource) -> dg.AssetCheckResult:
    from llmusage.reconcile.store import load

    entities = load(lake.reconcile_dir).entities
    drifted = entities.filter(~pl.col("drift_ok")).sort(pl.col("drift").abs(), descending=True)
    return dg.AssetCheckResult(
        passed=drifted.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "drifted": drifted.height,
            "total_drift": dg.MetadataValue.float(round(float(drifted["drift"].sum() or 0.0), 6)),
            "entities": dg.MetadataValue.md(preview(drifted, n=50)),
        },
    )


@dg.asset_check(
    asset="warehouse",
    description="The lake is at most the lag window plus one ingest interval behind PostgreSQL's newest log.",
)
def lake_is_fresh(postgres: PostgresResource, lake: LakeResource) -> dg.AssetCheckResult:
    from llmusage.lake.freshness import lake_lag

    lag = lake_lag(postgres.url(), lake.lake_dir)
    return dg.AssetCheckResult(
        passed=lag.behind is not None and lag.behind <= FRESHNESS_LAG,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "postgres_newest": str(lag.postgres_newest),
            "lake_newest": str(lag.lake_newest),
            "behind_minutes": dg.MetadataValue.float(lag.behind.total_seconds() / 60 if lag.behind else -1.0),
        },
    )
