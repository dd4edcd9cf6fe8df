"""CLI for finance: `llmusage chargeback`, the month's FOCUS statement by team or organization."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from llmusage.config import Settings

if TYPE_CHECKING:
    from llmusage.reports.chargeback import Statement


@click.command("chargeback")
@click.option("--month", required=True, help="YYYY-MM (UTC calendar month).")
@click.option("--by", type=click.Choice(["team", "org"]), default="team", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Base directory, created if missing (default $LLMUSAGE_HOME/exports/chargeback).",
)
@click.option("--restate", is_flag=True, help="Rebuild a frozen (closed) statement.")
@click.option(
    "--allow-empty", is_flag=True, help="Freeze a closed month even when the lake has no spend in it."
)
def chargeback_command(month: str, by: str, out: Path | None, restate: bool, allow_empty: bool) -> None:
    """One FOCUS 1.2 statement per month: CSV, Parquet, summary.md (frozen once the month is closed)."""
    from llmusage.reports.chargeback import chargeback

    settings = Settings.from_env()
    statement = chargeback(settings.lake_dir, month, by, out, restate, settings.exports_dir, allow_empty)
    print_statement(statement)


def print_statement(statement: Statement) -> None:
    from llmusage.money import usd

    if statement.written:
        state = statement.status + (" (frozen)" if statement.status == "closed" else ", rebuilt on every run")
    else:
        state = f"closed, frozen since {statement.manifest.get('produced_at')}: left unchanged (--restate rebuilds)"
    others = ""
    if statement.failed_requests or statement.cached_requests:
        others = f" (besides {statement.failed_requests:,} failed, {statement.cached_requests:,} cached)"
    click.echo(
        f"chargeback {statement.month} by {statement.by}: {statement.lines:,} lines, "
        f"{statement.requests:,} requests{others}, {usd(statement.total)} USD; {state}"
    )
    click.echo(f"  {statement.directory}/{{chargeback.csv,chargeback.parquet,summary.md,manifest.json}}")
    if statement.lines == 0:
        click.echo(f"  no spend in {statement.month} in the lake: the statement is empty")
