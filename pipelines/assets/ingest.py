"""Ingest: spend logs from PostgreSQL into the lake by UTC day, and the dimension snapshots."""

from datetime import date, timedelta

import dagster as dg

from llmusage.lake.layout import DIM_TABLES, dim_path, spend_logs_dir
from pipelines.partitions import daily_partitions
from pipelines.resources import LakeResource, PostgresResource
from pipelines.tables import table

QUALITY_CHECK = "spend_logs_quality"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            f"dim_{name}",
            group_name="ingest",
            kinds={"postgres", "parquet"},
            description=f"Snapshot of the {name} table in lake/dims/{name}.parquet.",
        )
        for name in DIM_TABLES
    ],
)
def dimension_snapshots(postgres: PostgresResource, lake: LakeResource):
    """Snapshots of keys, users, teams, organizations and models, rewritten whole each run."""
    from llmusage.lake.dims import snapshot_dims

    counts = snapshot_dims(postgres.url(), lake.lake_dir)
    for name in DIM_TABLES:
        yield dg.MaterializeResult(
            asset_key=f"dim_{name}",
            metadata={"rows": counts.get(name, 0), "path": str(dim_path(lake.lake_dir, name))},
        )


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ingest",
    kinds={"postgres", "parquet"},
    deps=[f"dim_{name}" for name in ("keys", "models")],
    check_specs=[
        dg.AssetCheckSpec(
            QUALITY_CHECK,
            asset="spend_logs",
            blocking=True,
            description="Great Expectations suite: ids, tokens, prices, known models and keys, event_time in range.",
        )
    ],
)
def spend_logs(context: dg.AssetExecutionContext, postgres: PostgresResource, lake: LakeResource):
    """Spend logs of the partition's UTC days, extracted to lake/spend_logs/date=YYYY-MM-DD/ (atomic rewrite);
    each day's materialization carries that day's rows and spend."""
    from llmusage.lake.extract import ExtractOptions, extract
    from llmusage.lake.quality import validate_spend_logs

    window = context.partition_time_window
    first, last = window.start.date(), (window.end - timedelta(days=1)).date()
    report = extract(postgres.url(), lake.lake_dir, ExtractOptions(days=(first, last)))
    quality = validate_spend_logs(lake.lake_dir, first, last)
    by_day = {p.day: p for p in report.partitions}
    for key in context.partition_keys:  # each day's own rows and spend, however many days the run has
        day = by_day.get(date.fromisoformat(key))
        context.add_asset_metadata(
            {
                "rows": day.rows if day else 0,
                "spend": dg.MetadataValue.float(round(day.spend, 6) if day else 0.0),
                "path": str(day.path) if day and day.path else "no rows",
            },
            partition_key=key,
        )
    if not quality.success:
        _alert_quality_failed(context, postgres, quality, first, last)
    return dg.MaterializeResult(
        metadata={"run_days": f"{first}..{last}", "lake": str(spend_logs_dir(lake.lake_dir))},
        check_results=[
            dg.AssetCheckResult(
                check_name=QUALITY_CHECK,
                passed=quality.success,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "rows": quality.rows,
                    "expectations": quality.evaluated,
                    "failed": len(quality.failures),
                    "failures": table(
                        ("expectation", "column", "unexpected", "sample"),
                        (
                            (f["expectation"], f["column"], f["unexpected_count"], ", ".join(f["sample"]))
                            for f in quality.failures
                        ),
                    ),
                },
            )
        ],
    )


def _alert_quality_failed(
    context: dg.AssetExecutionContext, postgres: PostgresResource, quality, first, last
):
    """One alert per failed partition range (LLMUSAGE_ALERT_WEBHOOKS); a webhook down is a warning."""
    from llmusage.alerts.crossings import quality_alert
    from llmusage.alerts.dispatch import quality_failed

    policy = postgres.alert_policy()
    if policy is None:
        return
    period = str(first) if first == last else f"{first}..{last}"
    alert = quality_alert(
        QUALITY_CHECK, "spend_logs", period, quality.failures, quality.rows, quality.evaluated
    )
    for warning in quality_failed(postgres.url(), alert, policy).warnings:
        context.log.warning(warning)
