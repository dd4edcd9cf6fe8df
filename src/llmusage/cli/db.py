"""`llmusage db`: the operational PostgreSQL's URL, migrations, status, and stopping the embedded server."""

from __future__ import annotations

from pathlib import Path

import click

from llmusage.config import Settings
from llmusage.errors import LlmusageError


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
    """Apply pending migrations in order, each in its own transaction."""
    from llmusage.pg import migrations
    from llmusage.pg.connect import connect, resolve_url

    with connect(resolve_url(Settings.from_env()), autocommit=True) as conn:
        applied = migrations.migrate(conn, directory)
    if applied:
        for m in applied:
            click.echo(f"applied {m.path.name}")
    else:
        click.echo("schema is current; nothing to apply")


@db.command("status")
def db_status() -> None:
    """Show the server, the applied migrations and row counts."""
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
    from llmusage.pg import embedded

    settings = Settings.from_env()
    if settings.database_url is not None:
        raise LlmusageError("LLMUSAGE_DATABASE_URL is set: there is no embedded server to stop")
    click.echo("stopped" if embedded.stop(settings.pg_dir) else "not running")
