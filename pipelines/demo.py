"""The demo's pipeline step: materialize the whole graph once through Dagster (a persistent instance under
`$LLMUSAGE_HOME/dagster`, which `make ui` opens) and print what ops would read in the UI."""

from datetime import date

import click
import polars as pl

from llmusage.config import Settings
from pipelines.materialize import instance_at, materialize_month, materialize_range


def run_demo_pipeline(settings: Settings, first: date, last: date) -> bool:
    from llmusage.lake.extract import reset_spend_logs
    from llmusage.reconcile.store import load

    reset_spend_logs(settings.lake_dir)  # the seed replaced every log: the old lake describes other data
    instance = instance_at(settings.home / "dagster")
    result = materialize_range(first, last, instance)
    materialized = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()})
    click.echo(f"dagster: run {result.run_id[:8]} {'succeeded' if result.success else 'FAILED'}, "
               f"{first}..{last}: {', '.join(materialized)}")  # fmt: skip
    for evaluation in result.get_asset_check_evaluations():
        verdict = "passed" if evaluation.passed else f"FAILED ({evaluation.severity.value})"
        click.echo(f"  check {evaluation.asset_key.to_user_string()}.{evaluation.check_name}: {verdict}")
    if not result.success:
        return False
    month = materialize_month(last, instance)
    for event in month.get_asset_materialization_events():
        meta = event.materialization.metadata
        click.echo(
            f"dagster: chargeback_statement[{event.materialization.partition}] {meta['status'].value}, "
            f"{meta['lines'].value:,} lines, ${meta['total_usd'].value:,.2f} -> {meta['path'].value}"
        )
    if not month.success:
        return False
    reconciliation = load(settings.reconcile_dir)
    entities = reconciliation.entities
    over = entities.filter(pl.col("status") == "exceeded")
    click.echo(
        f"budgets: {entities.height} entities, {over.height} over budget, "
        f"{entities.filter(~pl.col('drift_ok')).height} with drift, "
        f"{entities.filter(pl.col('status') == 'orphaned').height} orphaned"
    )
    for row in over.iter_rows(named=True):
        crossed = f", crossed {row['first_exceeded_at']:%Y-%m-%d %H:%M}" if row["first_exceeded_at"] else ""
        flag = "blocked" if row["entity_type"] in ("key", "team") else "flagged"
        click.echo(
            f"  over budget ({flag}): {row['entity_type']:<12} {row['name']:<34} ${row['ledger_spend']:>9,.2f} of "
            f"${row['max_budget']:>8,.2f} ({row['utilization']:.0%}{crossed})"
        )
    return True
