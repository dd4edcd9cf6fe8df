"""What the callers run: `llmusage reconcile --apply` and the Dagster budgets job after the write-back (which
recorded the budget alerts in its own transaction), and the ingest job when the quality suite fails. Each
records what it raises, then delivers everything pending; none raises (problems come back as warnings)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from llmusage.alerts import store
from llmusage.alerts.crossings import Alert
from llmusage.alerts.delivery import DeliveryReport, deliver_pending
from llmusage.alerts.forecast import forecast_alerts
from llmusage.alerts.policy import AlertPolicy
from llmusage.pg.connect import connect


def _record(database_url: str, alerts: list[Alert]) -> int:
    with connect(database_url) as conn, conn.transaction():
        return store.record(conn, alerts)


def after_write_back(
    database_url: str, lake_dir: Path, entities: pl.DataFrame, policy: AlertPolicy
) -> DeliveryReport:
    """Record the forecast's alerts (teams that will cross their budget within the period), then deliver
    every pending alert. `entities` are the reconciliation's rows that were written back."""
    warnings = []
    try:
        _record(database_url, forecast_alerts(lake_dir, entities.filter(pl.col("entity_type") == "team")))
    except Exception as exc:  # a forecast that cannot be made must not stop the alerts already recorded
        warnings.append(f"forecast alerts skipped: {type(exc).__name__}: {exc}")
    report = deliver_pending(database_url, policy.webhooks, policy.retry)
    report.warnings[:0] = warnings
    return report


def quality_failed(database_url: str, alert: Alert, policy: AlertPolicy) -> DeliveryReport:
    """Record a failed quality check's alert and deliver every pending alert."""
    try:
        _record(database_url, [alert])
    except Exception as exc:
        report = DeliveryReport()
        report.warnings.append(f"quality alert not recorded: {type(exc).__name__}: {exc}")
        return report
    return deliver_pending(database_url, policy.webhooks, policy.retry)
