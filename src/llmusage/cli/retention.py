"""`llmusage retention --keep-days N [--apply]`: prune old spend logs from PostgreSQL, verified against
the lake; a dry run by default (`llmusage.retention`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from llmusage.config import Settings
from llmusage.money import usd
from llmusage.retention.plan import DEFAULT_BATCH_SIZE, RetentionOptions
from llmusage.sources.detect import Flavour

if TYPE_CHECKING:
    from llmusage.retention.prune import RetentionReport

LITELLM_NOTE = (
    "LiteLLM database: --apply deletes rows of LiteLLM_SpendLogs only (as LiteLLM's own retention job would); "
    "its counters (spend, total_spend) and daily spend tables are not touched, and LiteLLM's UI and "
    "/spend/logs no longer list the deleted requests. The lake keeps them."
)


def _keep_days(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    """A whole number of days, at least 1 (one clear line otherwise)."""
    try:
        days = int(value)
    except ValueError:
        raise click.BadParameter(f"must be a whole number of days, at least 1, got {value!r}") from None
    if days < 1:
        raise click.BadParameter(f"must be at least 1 (days of spend logs PostgreSQL keeps), got {days}")
    return days


@click.command("retention")
@click.option(
    "--keep-days", required=True, callback=_keep_days, help="Keep this many days of spend logs in PostgreSQL."
)
@click.option("--apply", is_flag=True, help="Delete (without it: a dry run that only reports).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows per DELETE transaction.",
)
def retention_command(keep_days: int, apply: bool, batch_size: int) -> None:
    """Delete spend logs older than --keep-days from PostgreSQL, only days the lake holds exactly."""
    from llmusage.pg.connect import resolve_url
    from llmusage.retention.prune import retention

    settings = Settings.from_env()
    options = RetentionOptions(keep_days=keep_days, apply=apply, batch_size=batch_size)
    report = retention(resolve_url(settings), settings.lake_dir, options)
    for line in describe(report):
        click.echo(line)


def describe(report: RetentionReport) -> list[str]:
    """The report as lines for people: the rule, one line per day, the totals, what to do next."""
    plan = report.plan
    mode = "applied" if report.applied else "dry run"
    lines = [
        f"retention ({mode}): {plan.flavour.value} database, keep {plan.keep_days} days: "
        f"spend logs before {plan.before:%Y-%m-%d %H:%M} UTC, days the lake holds exactly"
    ]
    if plan.flavour is Flavour.LITELLM:
        lines.append(LITELLM_NOTE)
    done = {d.day: d for d in report.pruned}
    for day in plan.days:
        if not day.deletes:
            lines.append(f"  {day.day}  skipped ({day.verdict.value}): {day.pg_rows:,} rows, {day.reason}")
        elif not report.applied:
            if day.reason:  # resumed: only the rows the lake partition holds go
                lines.append(f"  {day.day}  would delete up to {day.pg_rows:,} rows ({day.reason})")
            else:
                lines.append(f"  {day.day}  would delete {day.pg_rows:,} rows, {usd(day.pg_spend)}")
        else:
            result = done[day.day]
            left = f"; {result.rows_left:,} rows kept: not in the lake partition" if result.rows_left else ""
            lines.append(
                f"  {day.day}  deleted {result.rows_deleted:,} rows, {usd(result.spend_deleted)} "
                f"in {result.batches} batches{left}"
            )
    deleting, skipped = plan.deleting(), plan.skipped()
    if report.applied:
        total = (
            f"deleted {report.rows_deleted:,} rows ({usd(report.spend_deleted)}) in {report.batches} batches"
        )
    else:
        rows = sum(d.pg_rows for d in deleting)
        total = f"would delete {rows:,} rows ({usd(sum(d.pg_spend for d in deleting))})"
    lines.append(f"total: {total} on {len(deleting)} days; {len(skipped)} days skipped")
    if not plan.days:
        lines.append("nothing to do: PostgreSQL has no spend logs that old")
    elif not report.applied and deleting:
        lines.append("dry run: nothing was deleted; run again with --apply to delete")
    return lines
