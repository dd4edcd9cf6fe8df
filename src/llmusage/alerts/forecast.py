"""Forecast alerts: a team whose month-end forecast (`reports.forecast`, at the rate of its last days of
spend, as of the lake's newest log) reaches its budget before month end, and before its budget period
resets, raises one alert per team and period (`forecast`, threshold `100%`).

A team already over budget raises none here (its threshold alerts say it). A lake without spend logs or a
team snapshot has nothing to forecast: no alert, no error.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from llmusage.alerts.crossings import Alert
from llmusage.budgets.window import UNIT_SECONDS, parse_duration
from llmusage.lake.layout import dim_path, spend_log_partitions
from llmusage.sources.periods import months_before


def period_end(duration: str | None, start: datetime | None) -> datetime | None:
    """When a budget period that began at `start` resets (None for a lifetime budget). A LiteLLM `30d`
    period is a calendar month there; counted as 30 days here, the alert may go a day or so early or late."""
    if not duration or start is None:
        return None
    count, unit = parse_duration(duration)
    if unit == "mo":
        return months_before(start, -count)
    return start + timedelta(seconds=count * UNIT_SECONDS[unit])


def forecast_alerts(lake_dir: Path, teams: pl.DataFrame, rate_days: int = 7) -> list[Alert]:
    """Alerts for teams that will cross their budget within their period. `teams` are reconciliation's rows
    of the teams (their period: `window_start`, `budget_duration`; their name and ledger)."""
    if not spend_log_partitions(lake_dir) or not dim_path(lake_dir, "teams").exists():
        return []
    from llmusage.reports.forecast import forecast

    periods = {row["entity_id"]: row for row in teams.iter_rows(named=True)}
    alerts = []
    for row in (
        forecast(lake_dir, rate_days=rate_days)
        .filter(pl.col("outlook") == "will exceed")
        .iter_rows(named=True)
    ):
        team = periods.get(row["team_id"])
        if team is None or team["status"] == "exceeded":
            continue
        start, duration = team["window_start"], team["budget_duration"]
        ends = period_end(duration, start)
        if ends is not None and date.fromisoformat(row["exceeds_on"]) >= ends.date():
            continue  # the period resets first
        period = start.isoformat() if start is not None else ""
        fields = {
            "kind": "forecast",
            "entity_type": "team",
            "entity_id": row["team_id"],
            "entity_name": team["name"],
            "period_start": period,
            "period_end": ends.isoformat() if ends else None,
            "budget_duration": duration,
            "threshold": "100%",
            "threshold_percent": 100.0,
            "ledger": float(row["window_spend"]),
            "budget": float(row["max_budget"]),
            "daily_rate": float(row["daily_rate"]),
            "projected_month_spend": float(row["projected_month_spend"]),
            "projected_utilization": float(row["projected_utilization"]),
            "exceeds_on": row["exceeds_on"],
            "first_exceeded_at": None,
            "action": "none",
        }
        alerts.append(Alert("forecast", "team", row["team_id"], team["name"], "100%", period, fields))
    return alerts
