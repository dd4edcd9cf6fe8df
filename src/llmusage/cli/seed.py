"""`llmusage seed`: fill the database with synthetic traffic (`llmusage.devtools.seed`) and print a summary.

`run_seed` and `print_summary` are shared with the demo (`pipelines.demo`)."""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import TYPE_CHECKING

import click

from llmusage.config import Settings
from llmusage.errors import LlmusageError
from llmusage.money import usd

if TYPE_CHECKING:
    from llmusage.devtools.seed import SeedOptions, SeedReport


def parse_end(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            from llmusage.devtools.seed.loader import end_of_day

            return end_of_day(date.fromisoformat(value))
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError as exc:
        raise LlmusageError(
            f"--end must be a date (YYYY-MM-DD) or an ISO datetime in UTC, got {value!r}"
        ) from exc


@click.command("seed")
@click.option(
    "--flavour",
    type=click.Choice(["llmusage", "litellm"]),
    default="llmusage",
    show_default=True,
    help="llmusage: the llmusage schema and its synthetic traffic; litellm: a LiteLLM 1.110 database "
    "(built from LiteLLM's migrations if the database is empty) with stated budget verdicts.",
)
@click.option(
    "--logs", type=int, default=None, help="Number of spend logs [default: 100,000; litellm flavour: 4,000]."
)
@click.option(
    "--days",
    type=int,
    default=30,
    show_default=True,
    help="Days of traffic, ending today (UTC; llmusage flavour).",
)
@click.option(
    "--seed", "seed_", type=int, default=42, show_default=True, help="Random seed (same seed, same data)."
)
@click.option(
    "--anomalies", is_flag=True, help="Add drift, overruns, late rows and a deleted key (llmusage flavour)."
)
@click.option(
    "--end",
    help="End of the window (exclusive): a date means the whole day. Default: this hour (litellm flavour: "
    "this minute, the instant the verdicts are stated for).",
)
@click.option("--reset", is_flag=True, help="Replace the data already in the database.")
def seed(
    flavour: str, logs: int | None, days: int, seed_: int, anomalies: bool, end: str | None, reset: bool
) -> None:
    """Fill the database with a deterministic organization and its spend logs."""
    if flavour == "litellm":
        from llmusage.cli.seed_litellm import run_litellm_seed
        from llmusage.devtools.seed.litellm import DEFAULT_LOGS

        count = DEFAULT_LOGS if logs is None else logs
        if count < 0 or seed_ < 0:
            raise LlmusageError(f"--logs and --seed must be non-negative, got {count} and {seed_}")
        run_litellm_seed(parse_end(end), count, seed_, reset)
        return
    from llmusage.devtools.seed import SeedOptions

    options = SeedOptions(
        logs=100_000 if logs is None else logs,
        days=days,
        seed=seed_,
        anomalies=anomalies,
        end=parse_end(end),
        reset=reset,
    )
    report = run_seed(options)
    click.echo(
        f"seeded {options.logs:,} spend logs over {options.days} days "
        f"({report.window.start:%Y-%m-%d %H:%M} to {report.window.end:%Y-%m-%d %H:%M} UTC) "
        f"in {report.seconds:.1f}s ({report.logs_per_second:,.0f} logs/s)"
    )
    print_summary()


def run_seed(options: SeedOptions) -> SeedReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from llmusage.devtools.seed import seed
    from llmusage.pg.connect import connect, resolve_url

    options.validate()
    url = resolve_url(Settings.from_env())
    with connect(url) as conn:
        if sys.stderr.isatty() and options.logs >= 500_000:
            columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task("logs", total=options.logs)
                return seed(
                    conn, options, progress=lambda n: bar.advance(task, n), connect=lambda: connect(url)
                )
        return seed(conn, options, connect=lambda: connect(url))


def print_summary() -> None:
    from rich.console import Console
    from rich.table import Table

    from llmusage.pg.connect import connect, resolve_url
    from llmusage.pg.status import summarize

    with connect(resolve_url(Settings.from_env())) as conn:
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
    console.print(f"total spend: {usd(summary.spend)} over {summary.requests:,} requests ({span})")
    if not summary.over_budget:
        console.print("entities over budget: none")
        return
    over = Table(title=f"entities over budget: {len(summary.over_budget)}")
    for column in ("type", "entity", "spend", "max_budget", "used"):
        over.add_column(column, justify="right" if column in ("spend", "max_budget", "used") else "left")
    for o in summary.over_budget:
        used = f"{o.spend / o.max_budget:.0%}" if o.max_budget else "-"
        over.add_row(o.entity_type, o.name, usd(o.spend), usd(o.max_budget), used)
    console.print(over)
