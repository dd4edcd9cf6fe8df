"""`llmusage reconcile-daily`: LiteLLM's daily spend tables against the logs, every difference with its cause
(`llmusage.reconcile.daily_tables`). Exit 0 when every difference is explained, 1 when something is not (said on
stderr), and the usual one-line error (exit 1) on a database without daily tables."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from llmusage.config import Settings
from llmusage.money import usd

if TYPE_CHECKING:
    from rich.table import Table

    from llmusage.reconcile.daily_tables import DailyTablesReport, Gap


@click.command("reconcile-daily")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--days",
    "show_days",
    is_flag=True,
    help="Table format: every day of every table, not only the unexplained.",
)
def reconcile_daily_command(fmt: str, show_days: bool) -> None:
    """Reconcile LiteLLM's daily spend tables (user, team, organization, end user, tag) with the spend logs."""
    from llmusage.pg.connect import resolve_url
    from llmusage.reconcile.daily_tables import reconcile_daily_tables

    settings = Settings.from_env()
    report = reconcile_daily_tables(resolve_url(settings), settings.lake_dir)
    if fmt == "json":
        json.dump(report.to_json(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        _print(report, show_days)
    if not report.explained:
        bad = report.unexplained_days()
        tables = sorted({d.table for d in bad})
        click.echo(
            f"llmusage: unexplained differences between the daily tables and the logs on {len(bad)} table-day(s) "
            f"({', '.join(tables)})",
            err=True,
        )
        sys.exit(1)


def _print(report: DailyTablesReport, show_days: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 220)
    source = (
        f"lake before {report.lake_cutoff:%Y-%m-%d %H:%M}, PostgreSQL after"
        if report.lake_cutoff
        else "PostgreSQL"
    )
    history = f"oldest log {report.history_day}" if report.history_day else "no logs"
    table = Table(
        title=f"LiteLLM daily tables against the logs as of {report.as_of:%Y-%m-%d %H:%M} UTC ({source}; {history})"
    )
    for column in ("table", "daily spend", "logs spend", "difference", "causes", "unexplained",
                   "daily req", "logs req", "difference", "causes", "unexplained"):  # fmt: skip
        table.add_column(
            column, justify="left" if column in ("table", "causes") else "right", overflow="fold"
        )
    for t in report.tables:
        _row(table, t.total.table, t.total)
        for day in t.days if show_days else t.unexplained_days():
            _row(table, f"  {day.day} ({day.position})", day)
    console.print(table)
    if report.missing_tables:
        console.print(f"not in this LiteLLM database: {', '.join(report.missing_tables)}")


def _row(table: Table, label: str, gap: Gap) -> None:
    from llmusage.reconcile.daily_tables import describe_causes

    table.add_row(
        label,
        usd(gap.daily_spend, 4),
        usd(gap.logs_spend, 4),
        usd(gap.spend_difference, 4),
        describe_causes(gap.spend_causes, money=True),
        usd(gap.unexplained_spend, 4) if gap.unexplained_spend else "",
        f"{gap.daily_requests:,}",
        f"{gap.logs_requests:,}",
        f"{gap.request_difference:,}",
        describe_causes(gap.request_causes),
        f"{gap.unexplained_requests:,}" if gap.unexplained_requests else "",
    )
