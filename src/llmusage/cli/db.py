"""`llmusage db`: the operational PostgreSQL's URL, migrations, status, and stopping the embedded server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from llmusage.config import Settings
from llmusage.errors import LlmusageError
from llmusage.money import usd

if TYPE_CHECKING:
    from llmusage.pg.status import Summary


@click.group("db")
def db() -> None:
    """The operational PostgreSQL: URL, migrations, status."""


@db.command("url")
def db_url() -> None:
    """Print the database URL in use (starting the embedded server if it is the one)."""
    from llmusage.pg.connect import resolve_url

    click.echo(resolve_url(Settings.from_env()))


@db.command("migrate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Migrations directory (default: the project's sql/migrations).",
)
def db_migrate(directory: Path | None) -> None:
    """Apply pending migrations in order, each in its own transaction.

    On a LiteLLM database only the migrations of llmusage's own schema apply; those that would create or
    alter LiteLLM's tables are recorded as skipped.
    """
    from llmusage.pg import migrations
    from llmusage.pg.connect import connect, resolve_url

    with connect(resolve_url(Settings.from_env()), autocommit=True) as conn:
        run = migrations.run(conn, directory)
    click.echo(run.describe())


@db.command("status")
def db_status() -> None:
    """Show the server, the flavour, the migrations, row counts, logged spend and who is over budget."""
    from llmusage.pg import embedded
    from llmusage.pg.connect import connect, redact, resolve_url
    from llmusage.pg.status import summarize

    settings = Settings.from_env()
    url = resolve_url(settings)
    if settings.database_url is None:
        info = embedded.read_running(settings.pg_dir)
        where = f"embedded, data {settings.pg_dir}, pid {info.pid if info else '?'}, socket {url.split('host=')[-1]}"
    else:
        where = redact(url)
    with connect(url) as conn:
        summary = summarize(conn)
    _print_summary(summary, where)


def _print_summary(summary: Summary, where: str) -> None:
    from llmusage.pg.migrations import SKIP_REASON

    click.echo(f"server     {where} (PostgreSQL {summary.server_version})")
    click.echo(f"flavour    {summary.detected.describe()}")
    skipped = [a for a in summary.applied if a.skipped]
    counted = f"{len(summary.applied) - len(skipped)} applied, "
    counted += f"{len(skipped)} skipped, " if skipped else ""
    click.echo(f"migrations {counted}{len(summary.pending)} pending")
    for a in summary.applied:
        what = f"{a.outcome} {a.applied_at:%Y-%m-%d %H:%M:%S %Z}" + (f" ({SKIP_REASON})" if a.skipped else "")
        click.echo(f"  {a.version:04d}_{a.name:<32} {what}")
    for name in summary.pending:
        click.echo(
            f"  {name:<37} pending" + (" (to be skipped on this flavour)" if name in summary.skipping else "")
        )
    click.echo("rows")
    for table, count in summary.counts.items():
        click.echo(f"  {table:<28} " + (f"{'missing':>12}" if count is None else f"{count:>12,}"))
    if summary.requests:
        span = (
            f"{summary.first:%Y-%m-%d %H:%M} to {summary.last:%Y-%m-%d %H:%M}"
            if summary.first and summary.last
            else ""
        )
        click.echo(f"spend      {usd(summary.spend)} over {summary.requests:,} requests ({span})")
    else:
        click.echo("spend      no spend logs")
    click.echo(f"over budget {len(summary.over_budget) or 'none'}")
    for o in summary.over_budget:
        used = f" ({o.spend / o.max_budget:.0%})" if o.max_budget else ""
        label = o.name if o.name == o.entity_id or o.entity_type == "key" else f"{o.name} [{o.entity_id}]"
        click.echo(f"  {o.entity_type:<12} {label}: {usd(o.spend)} of {usd(o.max_budget)}{used}")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (no-op when an external URL is configured)."""
    from llmusage.pg import embedded

    settings = Settings.from_env()
    if settings.database_url is not None:
        raise LlmusageError("LLMUSAGE_DATABASE_URL is set: there is no embedded server to stop")
    click.echo("stopped" if embedded.stop(settings.pg_dir) else "not running")
