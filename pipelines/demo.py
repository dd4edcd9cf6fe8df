"""`make demo`: the main job end to end. Database up, migrations, seed with anomalies, the whole graph
materialized once through Dagster (a persistent instance under `$LLMUSAGE_HOME/dagster`, which `make ui`
opens), then what ops and analysts would read: checks, budgets, a spend report and charts.

Run as `python -m pipelines.demo [--logs N] [--days D]`. It lives here, not in the library, because it
drives the Dagster graph: `llmusage` never imports `pipelines`."""

from __future__ import annotations

import sys
import warnings
from datetime import date, timedelta

import click
import polars as pl

from llmusage.cli import main as llmusage_main
from llmusage.cli.seed import print_summary, run_seed
from llmusage.config import Settings
from llmusage.devtools.seed import SeedOptions
from llmusage.errors import LlmusageError
from llmusage.pg import migrations
from llmusage.pg.connect import connect, resolve_url
from pipelines.materialize import instance_at, materialize_month, materialize_range


@click.command("demo")
@click.option("--logs", type=int, default=200_000, show_default=True)
@click.option("--days", type=int, default=30, show_default=True)
def demo(logs: int, days: int) -> None:
    """Run the main job end to end: database up, migrations, seed (with anomalies), the Dagster graph, reports."""
    settings = Settings.from_env()
    url = resolve_url(settings)
    where = (
        "embedded PostgreSQL in " + str(settings.pg_dir)
        if settings.database_url is None
        else "LLMUSAGE_DATABASE_URL"
    )
    click.echo(f"database: {where}")
    with connect(url, autocommit=True) as conn:
        applied = migrations.migrate(conn)
    click.echo(f"migrations: {len(applied)} applied" if applied else "migrations: schema is current")
    options = SeedOptions(logs=logs, days=days, seed=42, anomalies=True, reset=True)
    report = run_seed(options)
    click.echo(
        f"seed: {logs:,} spend logs over {days} days in {report.seconds:.1f}s "
        f"({report.logs_per_second:,.0f} logs/s), with anomalies"
    )
    print_summary()
    warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)")  # Dagster's API notices
    last = (report.window.end - timedelta(microseconds=1)).date()
    if not run_demo_pipeline(settings, report.window.start.date(), last):
        raise LlmusageError("the demo's Dagster run failed (see the lines above)")
    demo_reports(settings)


def run_demo_pipeline(settings: Settings, first: date, last: date) -> bool:
    from llmusage.lake.extract import reset_spend_logs
    from llmusage.reconcile.store import load

    reset_spend_logs(settings.lake_dir)  # the seed replaced every log: the old lake describes other data
    instance = instance_at(settings.home / "dagster")
    result = materialize_range(first, last, instance)
    materialized = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()})
    outcome = "succeeded" if result.success else "FAILED"
    click.echo(f"dagster: run {result.run_id[:8]} {outcome}, {first}..{last}: {', '.join(materialized)}")
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
            f"{meta['lines'].value:,} lines, ${meta['total_usd'].value} -> {meta['path'].value}"
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


def demo_reports(settings: Settings) -> None:
    """The demo's report step: spend by team and a chart, paths printed (the month's chargeback statement
    is materialized through Dagster just before)."""
    import sys

    from llmusage.reports.charts import chart
    from llmusage.reports.output import print_table
    from llmusage.reports.spend import spend_report

    print_table(spend_report(settings.lake_dir, "team"), sys.stdout)
    charts = settings.exports_dir / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    for name in ("spend-by-team.png", "spend-by-team.html"):
        path, _ = chart(settings.lake_dir, "team", charts / name)
        click.echo(f"chart: {path}")


def main(argv: list[str] | None = None) -> None:
    """Entry point with the CLI's error handling (one line on stderr, a non-zero exit)."""
    llmusage_main(argv, command=demo)


if __name__ == "__main__":
    main(sys.argv[1:])
