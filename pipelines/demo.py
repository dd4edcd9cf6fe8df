"""`make demo`: the main job end to end. Database up, migrations, seed with anomalies, the whole graph
materialized once through Dagster (a persistent instance under `$LLMUSAGE_HOME/dagster`, which `make ui`
opens), then what ops and analysts would read: checks, budgets, a spend report and charts.

A second, short leg shows the LiteLLM flavour: a database of its own on the same server
(`<database>_demo_litellm`, re-created on every run), built by LiteLLM's own Prisma migrations and filled
by the LiteLLM seed, then the commands a LiteLLM operator runs against it (`db status`, `db migrate`,
`extract`, `reconcile --apply`, a report by model group, `chargeback`), through the `llmusage` command line
with `LLMUSAGE_HOME` at `$LLMUSAGE_HOME/demo-litellm`, so the first leg's lake is left as it is.

Run as `python -m pipelines.demo [--logs N] [--days D] [--litellm/--no-litellm] [--litellm-logs N]`. It
lives here, not in the library, because it drives the Dagster graph: `llmusage` never imports `pipelines`."""

from __future__ import annotations

import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import polars as pl
import psycopg

from llmusage.cli import main as llmusage_main
from llmusage.cli.seed import print_summary, run_seed
from llmusage.config import Settings
from llmusage.devtools.seed import SeedOptions
from llmusage.errors import LlmusageError
from llmusage.money import usd
from llmusage.pg import migrations
from llmusage.pg.connect import connect, redact, resolve_url, validate_url, with_database

if TYPE_CHECKING:
    from llmusage.devtools.seed.litellm import Verdict


@click.command("demo")
@click.option("--logs", type=int, default=200_000, show_default=True)
@click.option("--days", type=int, default=30, show_default=True)
@click.option(
    "--litellm/--no-litellm",
    default=True,
    show_default=True,
    help="Then show the LiteLLM flavour on a second database of the same server.",
)
@click.option(
    "--litellm-logs",
    type=int,
    default=4_000,
    show_default=True,
    help="Spend logs of the LiteLLM leg (its budget cases alone take about 2,600).",
)
def demo(logs: int, days: int, litellm: bool, litellm_logs: int) -> None:
    """Run the main job end to end: database up, migrations, seed (with anomalies), the Dagster graph, reports;
    then the LiteLLM flavour's commands on a LiteLLM database."""
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
    if litellm:
        demo_litellm(url, settings.home / LITELLM_HOME, litellm_logs)


DEMO_ENV = "demo.env"
"""Beside the demo's Dagster instance: the environment `make ui` loads so the UI shows the demo's partitions."""


def partitions_from(settings: Settings, first: date) -> None:
    """Partitions start on the first seeded day: in this process (before the code location loads) and, through
    `$LLMUSAGE_HOME/dagster/demo.env`, in `make ui`'s."""
    os.environ["LLMUSAGE_PARTITIONS_START"] = first.isoformat()
    directory = settings.home / "dagster"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / DEMO_ENV).write_text(f"LLMUSAGE_PARTITIONS_START={first.isoformat()}\n")


def run_demo_pipeline(settings: Settings, first: date, last: date) -> bool:
    from llmusage.lake.extract import reset_spend_logs
    from llmusage.reconcile.breaches import breaches, holds
    from llmusage.reconcile.store import load

    reset_spend_logs(settings.lake_dir)  # the seed replaced every log: the old lake describes other data
    partitions_from(settings, first)
    from pipelines.launch import instance_at, launch_month, launch_range

    instance = instance_at(settings.home / "dagster")
    result = launch_range(first, last, instance)  # as the UI launches them: on its timeline
    materialized = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()})
    outcome = "succeeded" if result.success else "FAILED"
    runs = ", ".join(f"{r.job_name} {r.run_id[:8]}" for r in result.runs)
    click.echo(f"dagster: runs {runs} {outcome}, {first}..{last}: {', '.join(materialized)}")
    for evaluation in result.get_asset_check_evaluations():
        verdict = "passed" if evaluation.passed else f"FAILED ({evaluation.severity.value})"
        click.echo(f"  check {evaluation.asset_key.to_user_string()}.{evaluation.check_name}: {verdict}")
    if not result.success:
        return False
    month = launch_month(last, instance)
    for event in month.get_asset_materialization_events():
        meta = event.materialization.metadata
        click.echo(
            f"dagster: chargeback_statement[{event.materialization.partition}] {meta['status'].value}, "
            f"{meta['lines'].value:,} lines, {usd(float(meta['total_usd'].value))} -> {meta['path'].value}"
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
    for b in breaches(entities, holds(resolve_url(settings))):
        used = f"{b.utilization:.0%}" if b.utilization is not None else "-"
        crossed = f", crossed {b.first_exceeded_at:%Y-%m-%d %H:%M}" if b.first_exceeded_at else ""
        click.echo(
            f"  over budget ({b.action}): {b.kind:<12} {b.entity:<44} {usd(b.ledger):>10} of "
            f"{usd(b.budget):>9}, over by {usd(b.over_by)} ({used}{crossed})"
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


LITELLM_HOME = "demo-litellm"
"""The LiteLLM leg's `LLMUSAGE_HOME`, inside the demo's: its own lake, reconciliation and exports."""


def litellm_database_url(url: str) -> str:
    """The LiteLLM leg's database: `<database of url>_demo_litellm` on the same server."""
    dbname = validate_url(url).get("dbname") or "llmusage"
    return with_database(url, f"{dbname[:49]}_demo_litellm")


def demo_litellm(url: str, home: Path, logs: int) -> None:
    """The LiteLLM leg: a LiteLLM database built and seeded, then what its operator runs, step by step."""
    from psycopg import sql

    from llmusage.devtools.litellm_schema import create_litellm_schema, litellm_version
    from llmusage.devtools.seed.litellm import seed_litellm

    started = time.perf_counter()
    target = litellm_database_url(url)
    name = validate_url(target)["dbname"]
    click.echo("\n== LiteLLM flavour: a LiteLLM proxy's database, read by llmusage ==")
    with connect(url, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise LlmusageError(
                f"cannot create the LiteLLM leg's database {name} ({exc.diag.message_primary}); "
                "run the demo with --no-litellm"
            ) from exc
    shutil.rmtree(home, ignore_errors=True)  # the leg's own home: the database behind it is new
    click.echo(f"database: {redact(target)} (re-created), LLMUSAGE_HOME {home}")
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    with connect(target, autocommit=True) as conn:
        begun = time.perf_counter()
        applied = create_litellm_schema(conn)
        click.echo(
            f"schema: LiteLLM's own {applied} Prisma migrations (litellm-proxy-extras {litellm_version()}) "
            f"in {time.perf_counter() - begun:.1f}s"
        )
        scenario = seed_litellm(conn, now=now, scale=logs, seed=42)
    judged = scenario.verdicts  # every budgeted kind: keys to end users, tags and team memberships
    click.echo(
        f"seed: {scenario.logs:,} spend logs, {usd(scenario.spend)}, as LiteLLM writes them "
        f"({scenario.deleted_logs:,} older ones deleted by retention) in {scenario.seconds:.1f}s; LiteLLM "
        f"refuses {sum(v.litellm_refuses for v in judged)} of its {len(judged)} budgeted keys, users, teams, "
        "organizations, end users, tags and team memberships now"
    )
    environment = {
        "LLMUSAGE_DATABASE_URL": target,
        "LLMUSAGE_HOME": str(home),
        "LLMUSAGE_LITELLM_URL": None,  # blocks go into the demo's table, never to a real LiteLLM proxy
        "LLMUSAGE_LITELLM_MASTER_KEY": None,
    }
    steps = (
        ("flavour, LiteLLM's latest migration, rows, who is over budget", ["db", "status"]),
        ("creates llmusage's own schema only; LiteLLM's tables are left as they are", ["db", "migrate"]),
        ("spend logs into the leg's own lake, normalized", ["extract"]),
        ("budgets per period, as LiteLLM judges them; blocks keys and teams", ["reconcile", "--apply"]),
        ("spend by public model", ["report", "spend", "--by", "model_group", "--format", "table"]),
        ("this month's statement per team", ["chargeback", "--month", f"{now:%Y-%m}"]),
    )
    with _environment(environment):
        for what, argv in steps:
            click.echo(f"\n-- $ llmusage {' '.join(argv)}    # {what}")
            llmusage_main(argv)
            if argv[0] == "reconcile":
                _compare_with_litellm(judged, home / "reconcile")
    click.echo(f"\nLiteLLM leg: {time.perf_counter() - started:.1f}s")


def _compare_with_litellm(verdicts: list[Verdict], reconcile_dir: Path) -> None:
    """One line: does reconcile give every budgeted entity the status LiteLLM's own pre-call check implies?"""
    from llmusage.reconcile.store import load

    entities = load(reconcile_dir).entities
    got = {(r["entity_type"], r["entity_id"]): r["status"] for r in entities.iter_rows(named=True)}
    wrong = [v for v in verdicts if got.get((v.kind, v.id)) != v.expected_status]
    refused = ", ".join(f"{v.kind} {v.name}" for v in verdicts if v.litellm_refuses)
    if not wrong:
        click.echo(
            f"against LiteLLM's own pre-call checks: all {len(verdicts)} statuses match; exceeded is what "
            f"LiteLLM refuses: {refused}"
        )
        return
    click.echo(f"against LiteLLM's own pre-call checks: {len(wrong)} of {len(verdicts)} statuses DIFFER")
    for v in wrong:
        click.echo(
            f"  {v.kind} {v.name}: LiteLLM's {v.expected_status}, reconcile's {got.get((v.kind, v.id))}"
        )


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """`os.environ` with `values` set (None: unset) for the block, as it was afterwards: the command line
    reads its settings from the environment."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main(argv: list[str] | None = None) -> None:
    """Entry point with the CLI's error handling (one line on stderr, a non-zero exit)."""
    llmusage_main(argv, command=demo)


if __name__ == "__main__":
    main(sys.argv[1:])
