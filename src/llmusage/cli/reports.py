"""CLI for reports: `llmusage report ...` (`llmusage chargeback` is `cli/chargeback.py`).

Thin wrappers over `llmusage.reports`; every report reads the lake as of its last extract (see
`reports/source.py`), budgets and drift read PostgreSQL too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from llmusage.config import Settings
from llmusage.errors import LlmusageError
from llmusage.reports.params import allowed_dimensions

if TYPE_CHECKING:
    from llmusage.reports.report import Report

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "parquet", "md"]),
    help="Output format (default: a table on a terminal, CSV when piped).",
)
_OUT = click.option(
    "--out", type=click.Path(path_type=Path), help="Write to this file (its directory must exist)."
)
_SORT = click.option(
    "--sort",
    help="Sort by these columns (comma list; prefix - for descending, e.g. -spend). Default: each report's order.",
)
_LIMIT = click.option("--limit", type=int, help="Show the first N rows only (the totals still cover all).")
_WHERE = click.option(
    "--where",
    "where",
    multiple=True,
    help="DIM=VALUE[,VALUE...] or DIM!=VALUE; repeatable. A user is named by email or id.",
)
_FROM = click.option("--from", "first", help="First UTC day (YYYY-MM-DD).")
_TO = click.option("--to", "last", help="Last UTC day, inclusive (YYYY-MM-DD).")


def _emit(
    report: Report, fmt: str | None, out: Path | None, sort: str | None = None, limit: int | None = None
) -> None:
    from llmusage.reports.output import render
    from llmusage.reports.report import arrange

    message = render(arrange(report, sort, limit), fmt, out)
    if message:
        click.echo(message, err=True)
    if out is not None:
        click.echo(f"wrote {out}", err=True)


@click.group("report")
def report() -> None:
    """Spend reports over the lake (as of the last extract)."""


@report.command("spend")
@click.option(
    "--by",
    "by",
    default="team",
    show_default=True,
    help=f"Comma list of: {allowed_dimensions()}. `model` is the deployment, `model_group` the public model.",
)
@_FROM
@_TO
@_WHERE
@_SORT
@_LIMIT
@_FORMAT
@_OUT
def report_spend(
    by: str,
    first: str | None,
    last: str | None,
    where: tuple[str, ...],
    sort: str | None,
    limit: int | None,
    fmt: str | None,
    out: Path | None,
) -> None:
    """Requests, tokens and spend per group, largest first, with a totals row.

    `requests` counts the calls that neither failed nor were cache hits; `failed_requests` and
    `cached_requests` count those apart. Spend and tokens are over all of them."""
    from llmusage.reports.params import parse_range
    from llmusage.reports.spend import spend_report

    start, end = parse_range(first, last)
    _emit(spend_report(Settings.from_env().lake_dir, by, start, end, where), fmt, out, sort, limit)


@report.command("top")
@click.option("--by", default="key", show_default=True, help=f"One of: {allowed_dimensions()}.")
@click.option("--n", "n", type=int, default=10, show_default=True)
@_FROM
@_TO
@_WHERE
@_SORT
@_LIMIT
@_FORMAT
@_OUT
def report_top(
    by: str,
    n: int,
    first: str | None,
    last: str | None,
    where: tuple[str, ...],
    sort: str | None,
    limit: int | None,
    fmt: str | None,
    out: Path | None,
) -> None:
    """The N groups of a dimension (keys by default) that spent most, after the filters."""
    from llmusage.reports.params import parse_range
    from llmusage.reports.spend import top

    start, end = parse_range(first, last)
    _emit(top(Settings.from_env().lake_dir, by, n, start, end, where), fmt, out, sort, limit)


@report.command("budgets")
@click.option(
    "--threshold", type=float, default=0.8, show_default=True, help="Utilization that is a warning."
)
@click.option("--with-budget", is_flag=True, help="Only entities that have a max_budget (and orphans).")
@_SORT
@_LIMIT
@_FORMAT
@_OUT
def report_budgets(
    threshold: float,
    with_budget: bool,
    sort: str | None,
    limit: int | None,
    fmt: str | None,
    out: Path | None,
) -> None:
    """Every key, user, team and organization against its budget, worst first."""
    from llmusage.pg.connect import resolve_url
    from llmusage.reports.budgets import budgets_report

    settings = Settings.from_env()
    report_ = budgets_report(resolve_url(settings), settings.lake_dir, threshold, with_budget)
    _emit(report_, fmt, out, sort, limit)


@report.command("drift")
@_SORT
@_LIMIT
@_FORMAT
@_OUT
def report_drift(sort: str | None, limit: int | None, fmt: str | None, out: Path | None) -> None:
    """Entities whose recorded spend differs from the spend of their logs."""
    from llmusage.pg.connect import resolve_url
    from llmusage.reports.budgets import drift_report

    settings = Settings.from_env()
    _emit(drift_report(resolve_url(settings), settings.lake_dir), fmt, out, sort, limit)


@report.command("anomalies")
@_FROM
@_TO
@click.option("--baseline-days", type=int, default=7, show_default=True)
@click.option("--threshold", type=float, default=3.0, show_default=True, help="Ratio to the baseline.")
@click.option("--min-increase", type=float, default=1.0, show_default=True, help="USD above the baseline.")
@_SORT
@_LIMIT
@_FORMAT
@_OUT
def report_anomalies(
    first: str | None,
    last: str | None,
    baseline_days: int,
    threshold: float,
    min_increase: float,
    sort: str | None,
    limit: int | None,
    fmt: str | None,
    out: Path | None,
) -> None:
    """Days on which a team's or key's spend jumped above its trailing baseline (default: the last 7 days)."""
    from llmusage.reports.anomalies import anomalies_report
    from llmusage.reports.params import parse_range

    start, end = parse_range(first, last)
    report_ = anomalies_report(
        Settings.from_env().lake_dir, start, end, baseline_days, threshold, min_increase
    )
    _emit(report_, fmt, out, sort, limit)


@report.command("forecast")
@click.option("--month", help="YYYY-MM (default: the month of the lake's latest log).")
@click.option(
    "--rate-days", type=int, default=7, show_default=True, help="Days the daily rate is taken over."
)
@_SORT
@_LIMIT
@_FORMAT
@_OUT
def report_forecast(
    month: str | None, rate_days: int, sort: str | None, limit: int | None, fmt: str | None, out: Path | None
) -> None:
    """Month-end spend per team, projected, against its budget."""
    from llmusage.reports.forecast import forecast_report

    if rate_days < 1:
        raise LlmusageError(f"--rate-days must be at least 1, got {rate_days}")
    _emit(forecast_report(Settings.from_env().lake_dir, month, rate_days), fmt, out, sort, limit)


@report.command("chart")
@click.option("--by", default="team", show_default=True, help="One dimension (not a time one).")
@_FROM
@_TO
@click.option("--out", type=click.Path(path_type=Path), required=True, help="FILE.png or FILE.html")
def report_chart(by: str, first: str | None, last: str | None, out: Path) -> None:
    """Daily spend stacked by a dimension, with budget lines where budgets exist."""
    from llmusage.reports.charts import EmptyRange, chart
    from llmusage.reports.params import parse_range

    start, end = parse_range(first, last)
    try:
        path, daily = chart(Settings.from_env().lake_dir, by, out, start, end)
    except EmptyRange as exc:
        click.echo(f"{exc}; no chart written")
        return
    click.echo(f"chart: {path} ({daily['day'].n_unique()} days)")
