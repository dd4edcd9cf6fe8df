"""The alert log, `llmusage.alerts` (migration 0007): recording an alert once per kind, entity, threshold and
period, reading what is pending, and marking deliveries. Statements are in `sql/alerts/`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from llmusage.alerts.crossings import Alert
from llmusage.sqlfiles import load


@dataclass(frozen=True)
class Pending:
    alert_id: int
    kind: str
    entity_type: str
    entity_id: str
    period_start: str
    payload: dict
    sent_to: tuple[str, ...]  # fingerprints of the webhooks that have it

    @property
    def group(self) -> tuple[str, ...]:
        """Alerts sent as one message: a budget entity's thresholds of one period, else each on its own."""
        if self.kind in ("budget_threshold", "soft_budget"):
            return ("budget", self.entity_type, self.entity_id, self.period_start)
        return ("alert", str(self.alert_id))


MISSING = "the alert log llmusage.alerts does not exist: run `llmusage db migrate` (migration 0007)"


def record(conn: psycopg.Connection, alerts: Iterable[Alert]) -> int:
    """Record the alerts not recorded before, in the caller's transaction; returns how many are new. On a
    database not migrated yet nothing is recorded and the caller's transaction goes on (delivery says why)."""
    new = 0
    try:
        with conn.transaction(), conn.cursor() as cur:  # a savepoint: a missing table spoils nothing
            for alert in alerts:
                cur.execute(load("alerts/record.sql"), alert.row())
                new += cur.rowcount
    except psycopg.errors.UndefinedTable:
        return 0
    return new


def pending(conn: psycopg.Connection) -> list[Pending]:
    return [
        Pending(alert_id, kind, entity_type, entity_id, period, payload, tuple(sent_to))
        for alert_id, kind, entity_type, entity_id, period, payload, sent_to in conn.execute(
            load("alerts/pending.sql")
        )
    ]


def lock(conn: psycopg.Connection, ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The alerts of `ids` still unsent and not held by another delivery, locked until the transaction ends."""
    return {
        alert_id: tuple(sent_to) for alert_id, sent_to in conn.execute(load("alerts/lock.sql"), {"ids": ids})
    }


def mark(
    conn: psycopg.Connection, alert_id: int, sent_to: list[str], error: str | None, complete: bool
) -> None:
    conn.execute(
        load("alerts/mark.sql"),
        {"alert_id": alert_id, "sent_to": sent_to, "last_error": error, "complete": complete},
    )
