"""Which alerts a reconciliation raises, and the alert of a failed data-quality check.

One `Alert` per kind, entity, threshold and budget period: the alert log's unique key
(`sql/migrations/0007_alerts.sql`), so recording the same crossing twice keeps one, a later run that finds
a higher threshold crossed raises only that one, and a new period raises them again.

- `budget_threshold`: utilization of `max_budget` in the current period at or above a threshold
  (`policy.parse_thresholds`); 100% is crossed when reconciliation says `exceeded` (the gateway's own
  comparison: LiteLLM refuses teams, end users and tags only above the budget).
- `soft_budget`: spend at or above `soft_budget` (with or without a `max_budget`).
- Orphaned spend (an entity that no longer exists) raises nothing.
- `action` is what the write-back left in force: `blocked` (llmusage's block), `flagged` (llmusage's marker
  on a user or organization, which the llmusage proxy refuses), `blocked by a person`, or `none`; the
  write-back decides it (`ApplyReport.actions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
from psycopg.types.json import Jsonb

from llmusage.alerts.message import payload

SLACK = 1e-9
ACTIONS = ("blocked", "flagged", "blocked by a person", "none")


@dataclass(frozen=True)
class Alert:
    kind: str
    entity_type: str
    entity_id: str
    name: str | None
    threshold: str
    period_start: str  # ISO start of the budget period; '' for a lifetime budget
    fields: dict  # the structured fields of the message (JSON-ready)

    def row(self) -> dict:
        """The parameters of `sql/alerts/record.sql`."""
        return {
            "kind": self.kind,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "name": self.name,
            "threshold": self.threshold,
            "period_start": self.period_start,
            "payload": Jsonb(payload(self.fields)),
        }


def percent(value: float) -> str:
    return f"{value:g}%"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _number(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)  # NaN is no number


def budget_alerts(
    entities: pl.DataFrame, actions: dict[tuple[str, str], str], thresholds: tuple[float, ...]
) -> list[Alert]:
    """Every threshold and soft budget each entity has crossed in its current period (the store keeps the
    new ones). `entities` has reconciliation's columns (`reconcile.compute.COLUMNS`)."""
    alerts: list[Alert] = []
    for row in entities.iter_rows(named=True):
        if row["status"] == "orphaned":
            continue
        budget, soft = _number(row["max_budget"]), _number(row["soft_budget"])
        utilization = _number(row["utilization"])
        spent = utilization * budget if utilization is not None and budget else _number(row["ledger_spend"])
        label, entity = row["entity_type"], row["entity_id"]
        base = {
            "entity_type": label,
            "entity_id": entity,
            "entity_name": row["name"],
            "period_start": _iso(row["window_start"]) or "",
            "budget_duration": row["budget_duration"],
            "status": row["status"],
            "ledger": _number(row["ledger_spend"]),
            "recorded": _number(row["recorded_spend"]),
            "budget": budget,
            "soft_budget": soft,
            "utilization": utilization,
            "first_exceeded_at": _iso(row["first_exceeded_at"]),
            "action": actions.get((label, entity), "none"),
        }
        crossed = []
        if budget is not None and budget > 0:
            for threshold in thresholds:
                if threshold == 100.0:
                    hit = row["status"] == "exceeded"
                else:
                    hit = utilization is not None and utilization >= threshold / 100 - SLACK
                if hit:
                    crossed.append(("budget_threshold", percent(threshold), threshold))
        if soft is not None and spent is not None and spent >= soft - SLACK:
            crossed.append(("soft_budget", "soft_budget", 100 * soft / budget if budget else None))
        for kind, threshold, level in crossed:
            fields = {"kind": kind, **base, "threshold": threshold, "threshold_percent": level}
            alerts.append(Alert(kind, label, entity, row["name"], threshold, base["period_start"], fields))
    return alerts


def quality_alert(
    check: str, asset: str, period: str, failures: list[dict], rows: int, evaluated: int
) -> Alert:
    """A failed data-quality check of `asset` over `period` (a day, or `first..last`): once per check and
    period (a re-run that fails again for the same days does not repeat it)."""
    fields = {
        "kind": "quality_check",
        "entity_type": "check",
        "entity_id": check,
        "entity_name": asset,
        "period_start": period,
        "threshold": "failed",
        "rows": rows,
        "expectations": evaluated,
        "failed": len(failures),
        "failures": [
            {
                "expectation": f["expectation"],
                "column": f.get("column"),
                "unexpected": f.get("unexpected_count"),
            }
            for f in failures
        ],
        "ledger": None,
        "budget": None,
        "first_exceeded_at": None,
        "action": "none",
    }
    return Alert("quality_check", "check", check, asset, "failed", period, fields)
