"""`report chart`: daily spend stacked by one dimension, with budget utilization where budgets exist.

Drawn with matplotlib (Agg, no display, no network): a PNG, or a self-contained HTML page with the
chart as inline SVG and the figures as a table. The top panel stacks each day's spend by the `TOP`
largest groups (the rest as `other`). When the dimension has budgets (team, org, user, key), a second panel
draws utilization in percent (cumulative spend over `max_budget`) with a line at 100%, so a $5 budget and a
$5,000 one read on the same scale: every charted group with a budget, plus every group over its budget
wherever it ranks (`budget_utilization`). Cumulative spend starts from the group's lake spend before the
range, as a lifetime budget counts it (a `budget_duration` window is not modelled in the chart). A last day
that the lake holds only in part (its logs stop before midnight) is hatched and labelled "partial".
"""

from __future__ import annotations

import html
import io
from datetime import date, datetime, timedelta
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


def budget_utilization(
    lake_dir: Path,
    by: str,
    start: date | None = None,
    end: date | None = None,
    charted: list[str] | None = None,
) -> pl.DataFrame:
    """day, label, spend, cumulative, max_budget, utilization (percent) per day in range, for the groups of
    `charted` that have a budget (all groups when None) and every group whose cumulative spend reaches its
    budget in the range."""
    dim = parse_dimension(by)
    schema = {"day": pl.Date, "label": pl.String, "spend": pl.Float64, "cumulative": pl.Float64,
              "max_budget": pl.Float64, "utilization": pl.Float64}  # fmt: skip
    if dim.name not in _BUDGETS:
        return pl.DataFrame(schema=schema)
    groups = spend_groups(lake_dir, start, end, by_end_user=dim.name == "end_user")
    if groups.height == 0:
        return pl.DataFrame(schema=schema)
    labels = group_spend(groups, [dim])[dim.column].to_list()
    budgets = budgets_for(lake_dir, dim.name, labels, groups if dim.name == "key" else pl.DataFrame())
    if not budgets:
        return pl.DataFrame(schema=schema)
    first = groups["day"].min() if start is None else start
    before = spend_before(lake_dir, by, first) if first > freshness(lake_dir).first_day else {}
    per_day = (
        group_spend(groups, [parse_dimension("day"), dim])
        .select("day", pl.col(dim.column).alias("label"), "spend")
        .filter(pl.col("label").is_in(list(budgets)))
        .sort("label", "day")
    )
    frame = per_day.with_columns(
        cumulative=pl.col("spend").cum_sum().over("label")
        + pl.col("label").replace_strict(before, default=0.0, return_dtype=pl.Float64),
        max_budget=pl.col("label").replace_strict(budgets, return_dtype=pl.Float64),
    ).with_columns(utilization=100 * pl.col("cumulative") / pl.col("max_budget"))
    over = frame.filter(pl.col("utilization") >= 100)["label"].unique().to_list()
    keep = set(over) | (set(budgets) if charted is None else set(charted) & set(budgets))
    return frame.filter(pl.col("label").is_in(keep)).select(list(schema))


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


def _figure(daily: pl.DataFrame, column: str, usage: pl.DataFrame, title: str, partial: str | None) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide = daily.pivot(on=column, index="day", values="spend").sort("day").fill_null(0.0)
    labels = [c for c in wide.columns if c != "day"]
    totals = {c: wide[c].sum() for c in labels}
    labels.sort(key=lambda c: (c == "other", -totals[c], c))
    days = wide["day"].to_list()
    colors = plt.get_cmap("tab10").colors
    color_of = {label: colors[i % len(colors)] for i, label in enumerate(labels)}
    panels = 2 if usage.height else 1
    fig, axes = plt.subplots(panels, 1, figsize=(13, 4.2 * panels), sharex=True, squeeze=False)
    top = axes[0][0]
    bottom = [0.0] * len(days)
    for label in labels:
        values = wide[label].to_list()
        bars = top.bar(days, values, bottom=bottom, label=label, color=color_of[label], width=0.85)
        if partial:
            bars[-1].set_hatch("//")
            bars[-1].set_alpha(0.55)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if partial:
        top.annotate(partial, (days[-1], bottom[-1]), xytext=(0, 4), textcoords="offset points",
                     ha="center", fontsize=8)  # fmt: skip
    top.set_ylabel("spend per day (USD)")
    top.set_title(title)
    top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    top.grid(axis="y", alpha=0.3)
    if usage.height:
        ax = axes[1][0]
        extra = [c for c in colors if c not in color_of.values()] or list(colors)
        for i, (label, rows) in enumerate(usage.sort("day").group_by("label", maintain_order=True)):
            name = label[0]
            color = color_of.get(name, extra[i % len(extra)])
            budget = usd(rows["max_budget"][0])
            ax.plot(rows["day"].to_list(), rows["utilization"].to_list(), color=color, marker=".",
                    label=f"{name} (budget {budget})")  # fmt: skip
        ax.axhline(100, color="black", linestyle="--", linewidth=1, label="100% of max_budget")
        ax.set_ylabel("budget used (%)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(axis="y", alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def partial_day(daily: pl.DataFrame, through: datetime | None) -> str | None:
    """'partial: through HH:MM UTC' when the chart's last day is the lake's last and its logs stop before midnight."""
    if through is None or daily.height == 0 or daily["day"].max() != through.date():
        return None
    return f"partial: through {through:%H:%M} UTC"


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
    usage = budget_utilization(lake_dir, by, start, end, charted=labels)  # empty where no budgets
    partial = partial_day(daily, fresh.data_through)
    span = f"{daily['day'].min()} to {daily['day'].max()}"
    title = f"daily spend by {dim.name}, {span} (UTC)"
    fig = _figure(daily, dim.column, usage, title, partial)
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        if suffix == ".png":
            fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
            data = buffer.getvalue()
        else:
            fig.savefig(buffer, format="svg", metadata={"Date": None})
            note = fresh.note() + (f"; the last day is {partial}" if partial else "")
            data = _html(title, buffer.getvalue().decode(), daily, dim.column, usage, note).encode()
    finally:
        plt.close(fig)
    write_atomic(target, data)
    return target, daily


def _html(title: str, svg: str, daily: pl.DataFrame, column: str, usage: pl.DataFrame, note: str) -> str:
    svg = svg[svg.index("<svg") :]
    totals = daily.group_by(column).agg(pl.col("spend").sum()).sort("spend", descending=True)
    last = usage.sort("day").group_by("label").agg(pl.col("max_budget").last(), pl.col("utilization").last())
    budgets = {label: (budget, used) for label, budget, used in last.iter_rows()}
    rows = "\n".join(
        f"<tr><td>{html.escape(str(label))}</td><td>{usd(spent)}</td>"
        f"<td>{usd(budgets.get(label, (None, None))[0])}</td><td>{_percent(budgets.get(label, (None, None))[1])}</td></tr>"
        for label, spent in totals.iter_rows()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{padding:2px 10px;border-bottom:1px solid #ddd}}td:nth-child(n+2){{text-align:right}}</style></head>
<body><h1>{html.escape(title)}</h1>
{svg}
<table><tr><th>group</th><th>spend in range</th><th>max_budget</th><th>budget used</th></tr>
{rows}
</table>
<p><small>{html.escape(note)}</small></p>
</body></html>
"""


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"
