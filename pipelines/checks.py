"""Asset checks on the budgets, the lake's freshness and LiteLLM's daily tables (the data-quality suite is in
assets/ingest.py)."""

import dagster as dg
import polars as pl

from llmusage.lake.lag import LAG_WINDOW
from llmusage.money import usd
from pipelines.resources import LakeResource, PostgresResource
from pipelines.schedules import INGEST_INTERVAL
from pipelines.tables import breach_table, entity_table

FRESHNESS_LAG = LAG_WINDOW + INGEST_INTERVAL
"""How far the lake may be behind PostgreSQL: the lag window plus one ingest interval (2 h 15)."""
DRIFT_ROWS = 50
"""How many drifted entities, largest drift first, the drift check lists."""


@dg.asset_check(
    asset="budget_status",
    additional_deps=["budget_flags"],
    description="No key, user, team, organization (or LiteLLM end user, tag or team membership) at or over its "
    "budget. Evaluated after the write-back, so each breach shows what now holds on it.",
)
def no_budget_exceeded(postgres: PostgresResource, lake: LakeResource) -> dg.AssetCheckResult:
    from llmusage.reconcile.breaches import breaches, holds
    from llmusage.reconcile.store import load

    over = breaches(load(lake.reconcile_dir).entities, holds(postgres.url()))
    return dg.AssetCheckResult(
        passed=not over,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "exceeded": len(over),
            "over_by": dg.MetadataValue.text(usd(sum(b.over_by for b in over))),
            "offenders": breach_table(over),
        },
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
            "entities": entity_table(drifted.head(DRIFT_ROWS)),
        },
    )


@dg.asset_check(
    asset="warehouse",
    description="The lake is at most the lag window plus one ingest interval behind PostgreSQL's newest log.",
)
def lake_is_fresh(postgres: PostgresResource, lake: LakeResource) -> dg.AssetCheckResult:
    from llmusage.lake.freshness import lake_lag

    lag = lake_lag(postgres.url(), lake.lake_dir)
    minutes = lag.behind_minutes
    return dg.AssetCheckResult(
        passed=lag.behind is not None and lag.behind <= FRESHNESS_LAG,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "postgres_newest": str(lag.postgres_newest),
            "lake_newest": str(lag.lake_newest),
            "behind_minutes": dg.MetadataValue.float(minutes) if minutes is not None else "the lake is empty",
            "allowed_minutes": dg.MetadataValue.float(FRESHNESS_LAG.total_seconds() / 60),
        },
    )


@dg.asset_check(
    asset="warehouse",
    description="LiteLLM's daily spend tables agree with the logs: every difference has a cause (retention, "
    "tag fan-out, failures without a log); passes on a database without daily tables.",
)
def daily_tables_agree_with_logs(postgres: PostgresResource, lake: LakeResource) -> dg.AssetCheckResult:
    from llmusage.reconcile.daily_tables import NotLitellmDatabase, reconcile_daily_tables

    try:
        report = reconcile_daily_tables(postgres.url(), lake.lake_dir)
    except NotLitellmDatabase as exc:
        return dg.AssetCheckResult(
            passed=True, severity=dg.AssetCheckSeverity.WARN, metadata={"daily_tables": f"none: {exc}"}
        )
    unexplained = report.unexplained_days()
    return dg.AssetCheckResult(
        passed=not unexplained,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unexplained_days": len(unexplained),
            "unexplained_spend": dg.MetadataValue.float(
                round(sum((d.unexplained_spend for d in unexplained), 0.0), 6)
            ),
            "unexplained_requests": sum(d.unexplained_requests for d in unexplained),
            "oldest_log_day": str(report.history_day),
            "as_of": report.as_of.isoformat(),
            "tables": dg.MetadataValue.md(report.to_markdown()),
        },
    )
