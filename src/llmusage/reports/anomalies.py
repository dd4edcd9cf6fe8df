"""`report anomalies`: a day's spend per team and per key against its trailing baseline.

The baseline is the mean daily spend over the `baseline_days` days before (days without spend count as
zero; `sql/reports/entity_daily_baseline.sql`). A day is an anomaly when its spend is at least
`threshold` times the baseline and at least `min_increase` dollars above it (so a key going from 1 cent
to 5 cents is not news). Only days with a whole baseline inside the lake are judged.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

from llmusage.errors import LlmusageError
from llmusage.money import usd
from llmusage.reports.report import Report
from llmusage.reports.source import freshness, lake_connection
from llmusage.sqlfiles import load


def anomalies_report(
    lake_dir: Path,
    start: date | None = None,
    end: date | None = None,
    baseline_days: int = 7,
    threshold: float = 3.0,
    min_increase: float = 1.0,
) -> Report:
    if baseline_days < 1:
        raise LlmusageError(f"--baseline-days must be at least 1, got {baseline_days}")
    if threshold <= 1:
        raise LlmusageError(f"--threshold is a ratio above 1, got {threshold}")
    fresh = freshness(lake_dir)
    earliest = fresh.first_day + timedelta(days=baseline_days)
    end = end or fresh.last_day
    start = max(start or end - timedelta(days=6), earliest)
    frame = pl.DataFrame()
    if start <= end:
        params = {"start": start, "end": end, "baseline_days": baseline_days}
        with lake_connection(lake_dir) as duck:
            frame = duck.sql(load("reports/entity_daily_baseline.sql"), params=params).pl()
    if frame.height:
        frame = (
            frame.with_columns(
                ratio=pl.when(pl.col("baseline") > 0).then(pl.col("spend") / pl.col("baseline")),
                increase=pl.col("spend") - pl.col("baseline"),
            )
            .filter(
                (pl.col("spend") >= threshold * pl.col("baseline")) & (pl.col("increase") >= min_increase)
            )
            .sort(["increase", "entity_type", "name"], descending=[True, False, False])
            .select("day", "entity_type", "name", "spend", "baseline", "ratio", "increase", "entity_id")
            .rename({"increase": "spend_above_baseline"})
        )
    else:
        frame = pl.DataFrame(
            schema={
                "day": pl.Date,
                "entity_type": pl.String,
                "name": pl.String,
                "spend": pl.Float64,
                "baseline": pl.Float64,
                "ratio": pl.Float64,
                "spend_above_baseline": pl.Float64,
                "entity_id": pl.String,
            }
        )
    frame = frame.with_columns(
        entity_id=pl.when(pl.col("entity_type") == "key")
        .then(pl.col("entity_id").str.slice(0, 8))
        .otherwise(pl.col("entity_id"))
    )
    span = f"{start} to {end}"
    return Report(
        name="anomalies",
        title=f"anomalies {span}: daily spend >= {threshold:g}x the {baseline_days}-day baseline "
        f"and >= {usd(min_increase)} above it",
        frame=frame,
        notes=[fresh.note(), "teams and keys; ratio is empty where the baseline is zero (new spend)"],
        empty_message=f"no anomalies in {span}"
        if start <= end
        else "no day has a whole baseline in the lake",
    )


def anomalies(
    lake_dir: Path,
    start: date | None = None,
    end: date | None = None,
    baseline_days: int = 7,
    threshold: float = 3.0,
    min_increase: float = 1.0,
) -> pl.DataFrame:
    return anomalies_report(lake_dir, start, end, baseline_days, threshold, min_increase).frame
