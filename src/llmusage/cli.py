"""The `llmusage` command line: thin wrappers over the library, each failure one line and a non-zero exit."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import click

from llmusage.config import Settings
from llmusage.errors import LlmusageError

if TYPE_CHECKING:
    from llmusage.seed import SeedOptions, SeedReport


def _settings() -> Settings:
    return Settings.from_env()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="llmusage")
def cli() -> None:
    """Spend accounting for an LLM gateway on the LiteLLM schema."""


@cli.group()
def db() -> None:
    """The operational PostgreSQL: URL, migrations, status."""


@db.command("url")
def db_url() -> None:
    """Print the database URL in use (starting the embedded server if it is the one)."""
    from llmusage.db import resolve_url

    click.echo(resolve_url(_settings()))


@db.command("migrate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=__import__("pathlib").Path),
    help="Migrations directory (default: the project's sql/migrations).",
)
def db_migrate(directory: object) -> None:
    """Apply pending migrations in order, each in its own transaction."""
    from llmusage import migrations
    from llmusage.db import connect, resolve_url

    with connect(resolve_url(_settings()), autocommit=True) as conn:
        applied = migrations.migrate(conn, directory)  # type: ignore[arg-type]
    if applied:
        for m in applied:
            click.echo(f"applied {m.path.name}")
    else:
        click.echo("schema is current; nothing to apply")


@db.command("status")
def db_status() -> None:
    """Show the server, the applied migrations and row counts."""
    from llmusage import embedded
    from llmusage.db import connect, redact, resolve_url
    from llmusage.status import summarize

    settings = _settings()
    url = resolve_url(settings)
    if settings.database_url is None:
        info = embedded.read_running(settings.pg_dir)
        where = f"embedded, data {settings.pg_dir}, pid {info.pid if info else '?'}, socket {url.split('host=')[-1]}"
    else:
        where = redact(url)
    with connect(url) as conn:
        summary = summarize(conn)
    click.echo(f"server     {where} (PostgreSQL {summary.server_version})")
    click.echo(f"migrations {len(summary.applied)} applied, {len(summary.pending)} pending")
    for a in summary.applied:
        click.echo(f"  {a.version:04d}_{a.name:<32} applied {a.applied_at:%Y-%m-%d %H:%M:%S %Z}")
    for name in summary.pending:
        click.echo(f"  {name:<37} pending")
    click.echo("rows")
    for table, count in summary.counts.items():
        click.echo(f"  {table:<28} {'missing' if count is None else f'{count:>12,}'}")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (no-op when an external URL is configured)."""
    from llmusage import embedded

    settings = _settings()
    if settings.database_url is not None:
        raise LlmusageError("LLMUSAGE_DATABASE_URL is set: there is no embedded server to stop")
    click.echo("stopped" if embedded.stop(settings.pg_dir) else "not running")


def _parse_end(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            from llmusage.seed.loader import end_of_day

            return end_of_day(date.fromisoformat(value))
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError as exc:
        raise LlmusageError(
            f"--end must be a date (YYYY-MM-DD) or an ISO datetime in UTC, got {value!r}"
        ) from exc


@cli.command()
@click.option("--logs", type=int, default=100_000, show_default=True, help="Number of spend logs.")
@click.option("--days", type=int, default=30, show_default=True, help="Days of traffic, ending today (UTC).")
@click.option(
    "--seed", "seed_", type=int, default=42, show_default=True, help="Random seed (same seed, same data)."
)
@click.option("--anomalies", is_flag=True, help="Add drift, overruns, late rows and a deleted key.")
@click.option("--end", help="End of the window (exclusive): a date means the whole day. Default: this hour.")
@click.option("--reset", is_flag=True, help="Replace the data already in the database.")
def seed(logs: int, days: int, seed_: int, anomalies: bool, end: str | None, reset: bool) -> None:
    """Fill the database with a deterministic organization and its spend logs."""
    from llmusage.seed import SeedOptions

    options = SeedOptions(
        logs=logs, days=days, seed=seed_, anomalies=anomalies, end=_parse_end(end), reset=reset
    )
    report = _run_seed(options)
    click.echo(
        f"seeded {options.logs:,} spend logs over {options.days} days "
        f"({report.window.start:%Y-%m-%d %H:%M} to {report.window.end:%Y-%m-%d %H:%M} UTC) "
        f"in {report.seconds:.1f}s ({report.logs_per_second:,.0f} logs/s)"
    )
    _print_summary()


def _run_seed(options: SeedOptions) -> SeedReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from llmusage.db import connect, resolve_url
    from llmusage.seed import seed

    options.validate()
    url = resolve_url(_settings())
    with connect(url) as conn:
        if sys.stderr.isatty() and options.logs >= 500_000:
            columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task("logs", total=options.logs)
                return seed(
                    conn, options, progress=lambda n: bar.advance(task, n), connect=lambda: connect(url)
                )
        return seed(conn, options, connect=lambda: connect(url))


def _print_summary() -> None:
    from rich.console import Console
    from rich.table import Table

    from llmusage.db import connect, resolve_url
    from llmusage.status import summarize

    with connect(resolve_url(_settings())) as conn:
        summary = summarize(conn)
    console = Console(highlight=False)
    rows = Table(title="rows per table", show_header=True)
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for table, count in summary.counts.items():
        rows.add_row(table, "missing" if count is None else f"{count:,}")
    console.print(rows)
    span = (
        f"{summary.first:%Y-%m-%d} to {summary.last:%Y-%m-%d}"
        if summary.first and summary.last
        else "no logs"
    )
    console.print(f"total spend: ${summary.spend:,.2f} over {summary.requests:,} requests ({span})")
    if not summary.over_budget:
        console.print("entities over budget: none")
        return
    over = Table(title=f"entities over budget: {len(summary.over_budget)}")
    for column in ("type", "entity", "spend", "max_budget", "used"):
        over.add_column(column, justify="right" if column in ("spend", "max_budget", "used") else "left")
    for o in summary.over_budget:
        used = f"{o.spend / o.max_budget:.0%}" if o.max_budget else "-"
        over.add_row(o.entity_type, o.name, f"${o.spend:,.2f}", f"${o.max_budget:,.2f}", used)
    console.print(over)


@cli.command()
@click.option("--logs", type=int, default=200_000, show_default=True)
@click.option("--days", type=int, default=30, show_default=True)
def demo(logs: int, days: int) -> None:
    """Run the main job end to end: database up, migrations, seed (with anomalies), summary."""
    from llmusage import migrations
    from llmusage.db import connect, resolve_url
    from llmusage.seed import SeedOptions

    settings = _settings()
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
    report = _run_seed(options)
    click.echo(
        f"seed: {logs:,} spend logs over {days} days in {report.seconds:.1f}s "
        f"({report.logs_per_second:,.0f} logs/s), with anomalies"
    )
    _print_summary()
    import warnings

    warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)")  # Dagster's API notices
    from pipelines.demo import run_demo_pipeline

    last = (report.window.end - timedelta(microseconds=1)).date()
    if not run_demo_pipeline(settings, report.window.start.date(), last):
        raise LlmusageError("the demo's Dagster run failed (see the lines above)")
    from llmusage.cli_reports import demo_reports

    demo_reports(settings)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; a LlmusageError or a usage error is one line on stderr."""
    try:
        cli.main(args=argv, prog_name="llmusage", standalone_mode=False)
    except LlmusageError as exc:
        click.echo(f"llmusage: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "llmusage"
        click.echo(f"{command}: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("llmusage: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"llmusage: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)


def _register_commands() -> None:
    """Commands that live in modules of their own."""
    from llmusage.cli_lake import extract_command, warehouse
    from llmusage.cli_proxy import mock_upstream_command, proxy_command
    from llmusage.cli_reconcile import reconcile
    from llmusage.cli_reports import chargeback_command, report

    commands = (
        extract_command,
        warehouse,
        reconcile,
        report,
        chargeback_command,
        proxy_command,
        mock_upstream_command,
    )
    for command in commands:
        cli.add_command(command)


_register_commands()
