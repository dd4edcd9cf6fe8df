"""Ingest: spend logs from PostgreSQL into the lake by UTC day, and the dimension snapshots."""

from datetime import timedelta

import dagster as dg

from llmusage.lake.layout import DIM_TABLES, dim_path, spend_logs_dir
from pipelines.partitions import daily_partitions
from pipelines.resources import LakeResource, PostgresResource

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
    """Spend logs of the partition's UTC days, extracted to lake/spend_logs/date=YYYY-MM-DD/ (atomic rewrite)."""
    from llmusage.lake.extract import ExtractOptions, extract
    from llmusage.lake.quality import validate_spend_logs

    window = context.partition_time_window
    first, last = window.start.date(), (window.end - timedelta(days=1)).date()
    report = extract(postgres.url(), lake.lake_dir, ExtractOptions(days=(first, last)))
    quality = validate_spend_logs(lake.lake_dir, first, last)
    if not quality.success:
        _alert_quality_failed(context, postgres, quality, first, last)
    failures = "\n".join(
        f"| {f['expectation']} | {f['column']} | {f['unexpected_count']} | {', '.join(f['sample'])} |"
        for f in quality.failures
    )
    return dg.MaterializeResult(
        metadata={
            "rows": report.rows,
            "spend": dg.MetadataValue.float(round(report.spend, 6)),
            "first_day": str(first),
            "last_day": str(last),
            "partitions_written": sum(1 for p in report.partitions if p.path is not None),
            "path": str(spend_logs_dir(lake.lake_dir)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=QUALITY_CHECK,
                passed=quality.success,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "rows": quality.rows,
                    "expectations": quality.evaluated,
                    "failed": len(quality.failures),
                    "failures": dg.MetadataValue.md(
                        "| expectation | column | unexpected | sample |\n|---|---|---|---|\n" + failures
                        if failures
                        else "none"
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
