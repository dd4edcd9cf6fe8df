"""`report chart`: daily spend stacked by one dimension, with budget lines where budgets exist.

Drawn with matplotlib (Agg, no display, no network): a PNG, or a self-contained HTML page with the
chart as inline SVG and the figures as a table. The top panel stacks each day's spend by the `TOP`
largest groups (the rest as `other`); when the dimension has budgets (team, org, user, key), a second
panel draws each charted group's cumulative spend over the range against its `max_budget` as a dashed
line of the same colour. The cumulative line starts from the group's lake spend before the range, as a
lifetime budget counts it (a `budget_duration` window is not modelled in the chart).
"""

from __future__ import annotations

import html
import io
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from llmusage.errors import LlmusageError
from llmusage.lake.layout import dim_path
from llmusage.money import usd
from llmusage.reports.output import check_out_path, write_atomic
from llmusage.reports.params import TIME_DIMENSIONS, parse_dimension
from llmusage.reports.source import freshness
from llmusage.reports.spend import group_spend, spend_groups

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOP = 8


class EmptyRange(LlmusageError):
    """Nothing to draw: the range has no spend (the CLI says so and exits 0, as the other reports do)."""

    exit_code = 0


_BUDGETS = {  # dimension -> (dims file, id column, label column(s) as in spend_lines)
    "team": "teams",
    "org": "organizations",
    "user": "users",
    "key": "keys",
}


def daily_spend(lake_dir: Path, by: str, start: date | None = None, end: date | None = None) -> pl.DataFrame:
    """Spend per UTC day and group of `by` (the `TOP` largest groups, the rest as `other`)."""
    dim = parse_dimension(by)
    if dim.name in TIME_DIMENSIONS:
        raise LlmusageError("report chart: --by must not be a time dimension (the x axis is the day)")
    groups = spend_groups(lake_dir, start, end, by_end_user=dim.name == "end_user")
    if groups.height == 0:
        return pl.DataFrame(schema={"day": pl.Date, dim.column: pl.String, "spend": pl.Float64})
    ranked = group_spend(groups, [dim])
    keep = ranked[dim.column].head(TOP).to_list()
    per_day = group_spend(groups, [parse_dimension("day"), dim])
    return (
        per_day.with_columns(
            pl.when(pl.col(dim.column).is_in(keep)).then(pl.col(dim.column)).otherwise(pl.lit("other"))
        )
        .group_by("day", dim.column)
        .agg(pl.col("spend").sum())
        .sort("day", dim.column)
    )


def budgets_for(lake_dir: Path, by: str, labels: list[str], groups: pl.DataFrame) -> dict[str, float]:
    """max_budget by group label, for the groups that have one."""
    if by not in _BUDGETS:
        return {}
    dims = pl.read_parquet(dim_path(lake_dir, _BUDGETS[by]))
    if (
        "max_budget" not in dims.columns
    ):  # a snapshot without budgets (LiteLLM's organizations keep theirs apart)
        return {}
    if by == "team":
        table = dims.select(pl.col("team_alias").fill_null(pl.col("team_id")).alias("label"), "max_budget")
    elif by == "org":
        table = dims.select(
            pl.col("organization_alias").fill_null(pl.col("organization_id")).alias("label"), "max_budget"
        )
    elif by == "user":
        email = pl.when(pl.col("user_email") != "").then(pl.col("user_email"))
        table = dims.select(email.fill_null(pl.col("user_id")).alias("label"), "max_budget")
    else:
        keys = groups.select("key", "api_key").unique()
        table = keys.join(dims.select(pl.col("token").alias("api_key"), "max_budget"), on="api_key").select(
            pl.col("key").alias("label"), "max_budget"
        )
    found = table.filter(pl.col("label").is_in(labels) & pl.col("max_budget").is_not_null())
    return {label: float(budget) for label, budget in found.unique("label").iter_rows()}


def spend_before(lake_dir: Path, by: str, start: date) -> dict[str, float]:
    """Each group's lake spend before `start` (where its cumulative line starts)."""
    dim = parse_dimension(by)
    earlier = spend_groups(lake_dir, None, start - timedelta(days=1), by_end_user=dim.name == "end_user")
    earlier = group_spend(earlier, [dim])
    return {label: spent for label, spent in earlier.select(dim.column, "spend").iter_rows()}


def _figure(
    daily: pl.DataFrame, column: str, budgets: dict[str, float], title: str, before: dict[str, float]
) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide = daily.pivot(on=column, index="day", values="spend").sort("day").fill_null(0.0)
    labels = [c for c in wide.columns if c != "day"]
    totals = {c: wide[c].sum() for c in labels}
    labels.sort(key=lambda c: (c == "other", -totals[c], c))
    days = wide["day"].to_list()
    colors = plt.get_cmap("tab10").colors
    panels = 2 if budgets else 1
    fig, axes = plt.subplots(panels, 1, figsize=(13, 4.2 * panels), sharex=True, squeeze=False)
    top = axes[0][0]
    bottom = [0.0] * len(days)
    for i, label in enumerate(labels):
        values = wide[label].to_list()
        top.bar(days, values, bottom=bottom, label=label, color=colors[i % len(colors)], width=0.85)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    top.set_ylabel("spend per day (USD)")
    top.set_title(title)
    top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    top.grid(axis="y", alpha=0.3)
    if budgets:
        ax = axes[1][0]
        for i, label in enumerate(labels):
            if label not in budgets:
                continue
            color = colors[i % len(colors)]
            cumulative = (wide[label].cum_sum() + before.get(label, 0.0)).to_list()
            ax.plot(days, cumulative, color=color, label=f"{label} (spent)")
            ax.axhline(budgets[label], color=color, linestyle="--", linewidth=1, label=f"{label} budget")
        ax.set_ylabel("cumulative spend vs max_budget (USD)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(axis="y", alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def chart(
    lake_dir: Path, by: str, out: Path, start: date | None = None, end: date | None = None
) -> tuple[Path, pl.DataFrame]:
    """Draw the chart into `out` (.png or .html); returns the path and the daily figures drawn."""
    target = check_out_path(out)
    suffix = target.suffix.lower()
    if suffix not in (".png", ".html", ".htm"):
        raise LlmusageError(f"--out must end in .png or .html, got {out}")
    dim = parse_dimension(by)
    fresh = freshness(lake_dir)
    daily = daily_spend(lake_dir, by, start, end)
    if daily.height == 0:
        raise EmptyRange(f"no spend in range {start or fresh.first_day} to {end or fresh.last_day}")
    labels = daily[dim.column].unique().to_list()
    groups = spend_groups(lake_dir, start, end) if dim.name == "key" else pl.DataFrame()
    budgets = budgets_for(lake_dir, dim.name, labels, groups)
    before = spend_before(lake_dir, by, start) if budgets and start and start > fresh.first_day else {}
    span = f"{daily['day'].min()} to {daily['day'].max()}"
    title = f"daily spend by {dim.name}, {span} (UTC)"
    fig = _figure(daily, dim.column, budgets, title, before)
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        if suffix == ".png":
            fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
            data = buffer.getvalue()
        else:
            fig.savefig(buffer, format="svg", metadata={"Date": None})
            data = _html(title, buffer.getvalue().decode(), daily, dim.column, budgets, fresh.note()).encode()
    finally:
        plt.close(fig)
    write_atomic(target, data)
    return target, daily


def _html(
    title: str, svg: str, daily: pl.DataFrame, column: str, budgets: dict[str, float], note: str
) -> str:
    svg = svg[svg.index("<svg") :]
    totals = daily.group_by(column).agg(pl.col("spend").sum()).sort("spend", descending=True)
    rows = "\n".join(
        f"<tr><td>{html.escape(str(label))}</td><td>{usd(spent)}</td><td>{usd(budgets.get(label))}</td></tr>"
        for label, spent in totals.iter_rows()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{padding:2px 10px;border-bottom:1px solid #ddd}}td:nth-child(n+2){{text-align:right}}</style></head>
<body><h1>{html.escape(title)}</h1>
{svg}
<table><tr><th>group</th><th>spend in range</th><th>max_budget</th></tr>
{rows}
</table>
<p><small>{html.escape(note)}</small></p>
</body></html>
"""
