"""Retention: spend logs older than LLMUSAGE_RETENTION_DAYS pruned from PostgreSQL, verified days only.

Off unless configured: without `keep_days` in the run config or LLMUSAGE_RETENTION_DAYS, the asset deletes
nothing and says so; the schedule (`retention_schedule`) exists only when LLMUSAGE_RETENTION_DAYS is set.
Setting it is the consent to delete, on a LiteLLM database too (only `LiteLLM_SpendLogs` rows; LiteLLM's
counters and daily tables are never touched): docs/operations.md, "Retention".
"""

import dagster as dg

from llmusage.config import Settings
from llmusage.money import usd
from pipelines.resources import LakeResource, PostgresResource
from pipelines.tables import table


class RetentionConfig(dg.Config):
    keep_days: int | None = None
    """Days of spend logs PostgreSQL keeps; default LLMUSAGE_RETENTION_DAYS (unset: nothing is deleted)."""
    batch_size: int = 5_000
    """Rows per DELETE transaction."""


@dg.asset(group_name="retention", kinds={"postgres", "parquet"}, deps=["spend_logs"])
def spend_logs_retention(
    config: RetentionConfig, postgres: PostgresResource, lake: LakeResource
) -> dg.MaterializeResult:
    """Spend logs older than the retention period deleted from PostgreSQL, only for days whose lake
    partition holds exactly the same rows and spend; one record per day in llmusage.spend_log_prunes.
    Metadata: rows and spend deleted, DELETE transactions, and every day with what happened to it."""
    from llmusage.retention.plan import RetentionOptions
    from llmusage.retention.prune import retention

    keep_days = config.keep_days or Settings.from_env().retention_days
    if keep_days is None:
        return dg.MaterializeResult(
            metadata={"retention": "off: set LLMUSAGE_RETENTION_DAYS (or keep_days) to prune spend logs"}
        )
    options = RetentionOptions(keep_days=keep_days, apply=True, batch_size=config.batch_size)
    report = retention(postgres.url(), lake.lake_dir, options)
    done = {d.day: d for d in report.pruned}
    return dg.MaterializeResult(
        metadata={
            "flavour": report.plan.flavour.value,
            "keep_days": keep_days,
            "before": f"{report.plan.before:%Y-%m-%d %H:%M} UTC",
            "rows_deleted": report.rows_deleted,
            "spend_deleted": dg.MetadataValue.float(round(report.spend_deleted, 6)),
            "batches": report.batches,
            "days_pruned": len(report.pruned),
            "days_skipped": len(report.plan.skipped()),
            "days": table(
                ("day", "outcome", "rows in PostgreSQL", "rows deleted", "spend deleted", "batches", "why"),
                (
                    (
                        str(d.day),
                        "pruned" if d.deletes else f"skipped: {d.verdict.value}",
                        d.pg_rows,
                        done[d.day].rows_deleted if d.day in done else 0,
                        usd(done[d.day].spend_deleted) if d.day in done else usd(0),
                        done[d.day].batches if d.day in done else 0,
                        d.reason,
                    )
                    for d in report.plan.days
                ),
            ),
        }
    )
