"""Budgets: the reconciliation of every entity, and the flags it writes back to PostgreSQL."""

import dagster as dg
import polars as pl

from pipelines.assets.ingest import QUALITY_CHECK
from pipelines.resources import LakeResource, PostgresResource
from pipelines.tables import breach_table, change_table, entity_table, person_block_table

PREVIEW_ROWS = 10
"""How many entities, worst first, `budget_status`' preview shows (the check lists every breach)."""


@dg.asset(group_name="budgets", kinds={"duckdb", "postgres"}, deps=["spend_logs", "dim_teams", "dim_users"])
def budget_status(postgres: PostgresResource, lake: LakeResource) -> dg.MaterializeResult:
    """Ledger against recorded spend against max_budget for every key, user, team and organization."""
    from llmusage.reconcile import reconcile
    from llmusage.reconcile.store import save

    result = reconcile(postgres.url(), lake.lake_dir)
    path = save(result, lake.reconcile_dir)
    entities = result.entities
    counts = dict(entities.group_by("status").len().iter_rows())
    return dg.MaterializeResult(
        metadata={
            "entities": entities.height,
            "exceeded": counts.get("exceeded", 0),
            "warning": counts.get("warning", 0),
            "orphaned": counts.get("orphaned", 0),
            "drifted": entities.filter(~pl.col("drift_ok")).height,
            "ledger_spend": dg.MetadataValue.float(
                round(float(entities.filter(pl.col("entity_type") == "key")["ledger_spend"].sum()), 6)
            ),
            "lake_cutoff": str(result.cutoff),
            "as_of": result.as_of.isoformat(),
            "preview": entity_table(entities.head(PREVIEW_ROWS)),
            "path": str(path),
        }
    )


@dg.asset(group_name="budgets", kinds={"postgres"}, deps=["budget_status"])
def budget_flags(context: dg.AssetExecutionContext, postgres: PostgresResource, lake: LakeResource):
    """Flags written back: exceeded keys and teams blocked, users and organizations flagged, flags that
    llmusage set lifted once back under budget; statuses upserted and one event per change. On a LiteLLM
    database only keys and teams are blocked, through LiteLLM's management API when it is configured.
    Metadata: what changed, every breach with what now holds on it, and the blocks a person set."""
    from llmusage.reconcile import write_back
    from llmusage.reconcile.breaches import breaches, changes, holds, person_blocks
    from llmusage.reconcile.litellm_api import CACHE_DELAY
    from llmusage.reconcile.store import load
    from llmusage.sources.detect import Flavour

    _refuse_after_failed_quality(context)
    result = load(lake.reconcile_dir)
    api = postgres.litellm_api() if result.flavour is Flavour.LITELLM else None
    report = write_back(postgres.url(), result, litellm_api=api, alerts=postgres.alert_policy())
    written = "in the table"
    if result.flavour is Flavour.LITELLM:
        written = f"through LiteLLM's API at {api.url}" if api else f"in the table: {CACHE_DELAY}"
    held = holds(postgres.url())
    over = breaches(result.entities, held)
    by_person = person_blocks(result.entities, held, lifted=set(report.unflagged))
    return dg.MaterializeResult(
        metadata={
            "flagged": len(report.flagged),
            "unflagged": len(report.unflagged),
            "blocked_by_a_person": len(by_person),
            "status_changes": report.status_changes,
            "events": report.events,
            "written": written,
            "changes": change_table(changes(result.entities, report.flagged, report.unflagged)),
            "breaches": breach_table(over),
            "person_blocks": person_block_table(by_person),
        }
    )


def _refuse_after_failed_quality(context: dg.AssetExecutionContext) -> None:
    """Never write flags from bad data: the latest quality check of spend_logs must not have failed."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    key = dg.AssetCheckKey(dg.AssetKey("spend_logs"), QUALITY_CHECK)
    latest = context.instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).get(key)
    if latest is not None and latest.status == AssetCheckExecutionRecordStatus.FAILED:
        raise dg.Failure(
            description="the latest spend_logs quality check failed: flags are not written from bad data",
            metadata={"check_run_id": latest.run_id},
        )


@dg.asset(group_name="budgets", kinds={"postgres"}, deps=["budget_flags"])
def budget_alerts(postgres: PostgresResource, lake: LakeResource) -> dg.MaterializeResult:
    """Alerts sent to LLMUSAGE_ALERT_WEBHOOKS: the thresholds crossed that budget_flags recorded, teams whose
    forecast crosses their budget within the period, and any alert still pending from an earlier run. A
    webhook that fails is a warning here, never a failed run: its alerts stay pending for the next run."""
    from llmusage.alerts.dispatch import after_write_back
    from llmusage.reconcile.store import load

    policy = postgres.alert_policy()
    if policy is None:
        return dg.MaterializeResult(metadata={"webhooks": "none configured (LLMUSAGE_ALERT_WEBHOOKS)"})
    report = after_write_back(postgres.url(), lake.lake_dir, load(lake.reconcile_dir).entities, policy)
    return dg.MaterializeResult(
        metadata={
            "webhooks": len(policy.webhooks),
            "delivered": report.delivered,
            "pending": report.pending,
            "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in report.warnings) or "none"),
        }
    )
