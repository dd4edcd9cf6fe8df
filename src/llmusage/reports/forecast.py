"""`report forecast`: each team's month-end spend, projected, against its budget.

As of the lake's latest log (`data_through`): the daily rate is the team's spend over the `rate_days`
days before it; the month's projection is its spend in the month (never a later month's) plus the rate
times the days left in the month (fractional). Against the budget the projection is per budget period:
the spend in the team's current period (the whole lake for a budget without `budget_duration`, else the
current period, as reconciliation counts it on either flavour: `llmusage.sources.periods`) plus the rate
times the days left until the period ends or the month ends, whichever comes first (`horizon`), so
`projected_utilization` is the budget's utilization at the end of that horizon. `exceeds_on` is the day
the budget would be reached at that rate within the horizon.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa

from llmusage.budgets.window import UNIT_SECONDS, parse_duration
from llmusage.lake.dims import read_flavour
from llmusage.lake.layout import dim_path
from llmusage.reports.params import parse_month
from llmusage.reports.report import Report
from llmusage.reports.source import freshness, lake_connection
from llmusage.sources.detect import Flavour
from llmusage.sources.periods import months_before, period
from llmusage.sqlfiles import load


def period_end(duration: str, start: datetime, litellm: bool) -> datetime:
    """The exclusive end of a budget period of `duration` that began at `start` (naive UTC)."""
    count, unit = parse_duration(duration)
    if unit == "mo":
        return months_before(start, -count)
    if litellm and (count, unit) == (30, "d"):  # LiteLLM resets a 30d budget on the 1st
        return months_before(start, -1)
    return start + timedelta(seconds=count * UNIT_SECONDS[unit])


def forecast_report(lake_dir: Path, month: str | None = None, rate_days: int = 7) -> Report:
    fresh = freshness(lake_dir)
    as_of = fresh.data_through or datetime.combine(fresh.last_day + timedelta(days=1), datetime.min.time())
    start, end = parse_month(month or f"{as_of:%Y-%m}")
    month_end = datetime.combine(end, datetime.min.time())
    remaining = (
        max((month_end - max(as_of, datetime.combine(start, datetime.min.time()))).total_seconds(), 0) / 86400
    )
    teams = pl.read_parquet(dim_path(lake_dir, "teams"))
    litellm = read_flavour(lake_dir) == Flavour.LITELLM.value
    windows: dict[str, list] = {"team_id": [], "window_start": []}
    horizons: dict[str, list] = {"team_id": [], "period_end": [], "horizon_days": []}
    for row in teams.iter_rows(named=True):
        naive = {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in row.items()}
        naive["metadata"] = json.loads(row["metadata"] or "{}")
        window = period(naive, litellm, as_of)
        windows["team_id"].append(row["team_id"])
        windows["window_start"].append(window[1] if window else None)
        ends = period_end(window[0], window[1], litellm) if window else None
        horizon = min(ends, month_end) if ends else month_end
        horizons["team_id"].append(row["team_id"])
        horizons["period_end"].append(ends)
        horizons["horizon_days"].append(max((horizon - as_of).total_seconds(), 0) / 86400)
    params = {
        "month_start": start,
        "month_end": end,
        "rate_from": as_of - timedelta(days=rate_days),
        "rate_to": as_of,
    }
    window_schema = pa.schema([("team_id", pa.string()), ("window_start", pa.timestamp("us"))])
    with lake_connection(lake_dir) as duck:
        duck.register("team_windows", pa.table(windows, schema=window_schema))
        spent = duck.sql(load("reports/team_spend_since.sql"), params=params).pl()
    frame = (
        teams.select("team_id", pl.col("team_alias").fill_null(pl.col("team_id")).alias("team"), "max_budget")
        .join(spent, on="team_id", how="left")
        .join(pl.DataFrame(horizons, schema=HORIZON_SCHEMA), on="team_id", how="left")
        .with_columns(pl.col("window_spend", "month_spend", "rate_spend").fill_null(0.0))
        .with_columns(daily_rate=pl.col("rate_spend") / rate_days)
        .with_columns(
            projected_month_spend=pl.col("month_spend") + pl.col("daily_rate") * remaining,
            projected_window_spend=pl.col("window_spend") + pl.col("daily_rate") * pl.col("horizon_days"),
        )
        .with_columns(
            projected_utilization=pl.when(pl.col("max_budget") > 0).then(
                pl.col("projected_window_spend") / pl.col("max_budget")
            ),
            headroom=pl.col("max_budget") - pl.col("projected_window_spend"),
        )
    )
    exceeds: list[str | None] = []
    for row in frame.iter_rows(named=True):
        budget, spent_now, rate = row["max_budget"], row["window_spend"], row["daily_rate"]
        horizon = as_of + timedelta(days=row["horizon_days"])
        if budget is None:
            exceeds.append(None)
        elif spent_now >= budget:
            exceeds.append("already")
        elif rate > 0 and as_of + timedelta(days=(budget - spent_now) / rate) < horizon:
            exceeds.append(f"{as_of + timedelta(days=(budget - spent_now) / rate):%Y-%m-%d}")
        else:
            exceeds.append(None)
    frame = (
        frame.with_columns(exceeds_on=pl.Series(exceeds, dtype=pl.String))
        .with_columns(
            outlook=pl.when(pl.col("max_budget").is_null())
            .then(pl.lit("no budget"))
            .when(pl.col("exceeds_on") == "already")
            .then(pl.lit("exceeded"))
            .when(pl.col("exceeds_on").is_not_null())
            .then(pl.lit("will exceed"))
            .when(pl.col("projected_utilization") >= 0.8)
            .then(pl.lit("tight"))
            .otherwise(pl.lit("ok"))
        )
        .sort(["projected_utilization", "projected_month_spend"], descending=True, nulls_last=True)
        .select(
            "team",
            "outlook",
            "month_spend",
            "daily_rate",
            "projected_month_spend",
            "window_spend",
            "period_end",
            "projected_window_spend",
            "max_budget",
            "projected_utilization",
            "exceeds_on",
            "team_id",
        )
    )
    totals = {c: float(frame[c].sum() or 0.0) for c in ("month_spend", "daily_rate", "projected_month_spend")}
    return Report(
        name="forecast",
        title=f"forecast for {start:%Y-%m}: month-end spend per team at the last {rate_days} days' rate",
        frame=frame,
        totals=totals,
        notes=[fresh.note(), f"{remaining:.1f} days left in {start:%Y-%m} after the lake's latest log"],
        empty_message="no teams",
    )


HORIZON_SCHEMA = {"team_id": pl.String, "period_end": pl.Datetime("us"), "horizon_days": pl.Float64}


def forecast(lake_dir: Path, month: str | None = None, rate_days: int = 7) -> pl.DataFrame:
    return forecast_report(lake_dir, month, rate_days).frame
