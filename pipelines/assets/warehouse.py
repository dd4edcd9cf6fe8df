"""Warehouse: the daily spend rollup and the DuckDB file analysts open."""

from datetime import timedelta

import dagster as dg

from llmusage.lake.layout import DIM_TABLES, spend_daily_dir
from pipelines.partitions import daily_partitions
from pipelines.resources import LakeResource
from pipelines.tables import table


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="warehouse",
    kinds={"duckdb", "parquet"},
    deps=["spend_logs"],
)
def spend_daily(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Spend per UTC day, key, user, team, model and provider, in lake/rollups/spend_daily/date=.../."""
    from llmusage.lake.rollups import build_spend_daily

    window = context.partition_time_window
    days = [window.start.date() + timedelta(days=n) for n in range((window.end - window.start).days)]
    for day in days:  # each day's own rollup, however many days the run has
        rollup = build_spend_daily(lake.lake_dir, day)
        context.add_asset_metadata(
            {
                "rows": rollup.rows,
                "requests": rollup.requests,
                "spend": dg.MetadataValue.float(round(rollup.spend, 6)),
            },
            partition_key=day.isoformat(),
        )
    return dg.MaterializeResult(
        metadata={"run_days": f"{days[0]}..{days[-1]}", "path": str(spend_daily_dir(lake.lake_dir))}
    )


@dg.asset(
    group_name="warehouse",
    kinds={"duckdb"},
    deps=["spend_logs", "spend_daily", *[f"dim_{name}" for name in DIM_TABLES], "budget_status"],
    pool="duckdb",
)
def warehouse(lake: LakeResource) -> dg.MaterializeResult:
    """warehouse.duckdb: views over the lake and the tables of sql/warehouse/, rebuilt aside then renamed;
    its `budget_status` is the reconciliation's saved verdict (hence after `budget_status`)."""
    from llmusage.lake.warehouse import build

    built = build(lake.lake_dir, lake.warehouse_path, lake.reconcile_dir)
    return dg.MaterializeResult(
        metadata={
            "path": str(lake.warehouse_path),
            "objects": table(("name", "kind", "rows"), ((o.name, o.kind, o.rows) for o in built)),
        }
    )
