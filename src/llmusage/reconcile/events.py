"""What a write-back reports and the rows of its events table (`reconcile/postgres/budget_event_insert.sql`),
shared by both flavours' write-back."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from psycopg.types.json import Jsonb


@dataclass
class ApplyReport:
    flagged: list[tuple[str, str]] = field(default_factory=list)
    unflagged: list[tuple[str, str]] = field(default_factory=list)
    repaired: list[tuple[str, str]] = field(default_factory=list)
    status_changes: int = 0
    events: int = 0
    statuses: int = 0
    actions: dict[tuple[str, str], str] = field(default_factory=dict)
    """What holds on each entity after the write-back, as alerts name it (`llmusage.alerts.crossings`):
    `blocked` or `flagged` (llmusage's), `blocked by a person`; entities with none are absent."""
    alerts: int = 0  # alerts recorded, new in this write-back


def action(flagged: bool, honours_blocked: bool, persons_block: bool) -> str | None:
    """What holds on an entity after the write-back: llmusage's block (a `blocked` column the gateway honours)
    or flag (the marker alone), a person's block, or nothing (None)."""
    if flagged:
        return "blocked" if honours_blocked else "flagged"
    return "blocked by a person" if persons_block else None


def period_key(start: datetime | None) -> str:
    """A budget period as events record it: its start, ISO; '' for a lifetime budget."""
    return start.isoformat() if start is not None else ""


def number(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def event(base: dict, action: str, old: str | None, new: str, detail: dict) -> dict:
    """One row of reconcile/postgres/budget_event_insert.sql."""
    return {**base, "action": action, "old_status": old, "new_status": new, "detail": Jsonb(detail)}


def status_row(base: dict, row: dict, flagged: bool) -> dict:
    """One row of reconcile/postgres/budget_status_upsert.sql: the entity's reconciled row, and whether
    llmusage holds a flag on it."""
    return {
        **base,
        "status": row["status"],
        "drift": number(row["drift"]),
        "utilization": number(row["utilization"]),
        "first_exceeded_at": row["first_exceeded_at"],
        "budget_duration": row["budget_duration"],
        "window_start": row["window_start"],
        "top_models": Jsonb(row["top_models"] or []),
        "flagged": flagged,
    }


def event_base(row: dict) -> dict:
    """The fields every event and status row of an entity share, from its reconciled row."""
    return {
        "entity_type": row["entity_type"],
        "entity_id": row["entity_id"],
        "name": row["name"],
        "ledger_spend": number(row["ledger_spend"]),
        "recorded_spend": number(row["recorded_spend"]),
        "max_budget": number(row["max_budget"]),
    }
