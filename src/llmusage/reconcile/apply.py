"""Writing reconciliation back to PostgreSQL, in one transaction, idempotently.

- An exceeded key or team is blocked (`blocked = true`) and an exceeded user or organization flagged,
  each with the marker `llmusage.entities.BLOCK_MARKER` (reason, ledger spend, budget, time) in its metadata
  (`user_metadata` for users). The proxy refuses all four.
- A flag is lifted only where the marker says llmusage set it, once the entity is back under budget
  (budget raised, spend reset, window rolled over). A block without the marker is a person's and is
  never lifted.
- `llmusage.budget_status` holds every entity's current status (upserted); `llmusage.budget_events`
  gets one row per status change and one per flag set or lifted or spend repaired, so a re-run with
  nothing changed writes no event.
- `repair_spend` sets drifted `spend` columns to the ledger by subtracting the drift measured in the
  snapshot, so spend the proxy added meanwhile is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from psycopg.types.json import Jsonb

from llmusage.entities import KINDS, compose, entity_kind
from llmusage.pg.connect import connect
from llmusage.reconcile.compute import Reconciliation
from llmusage.sqlfiles import load

_LOCK_KEY = 0x6C6C7265  # "llre": one write-back at a time


@dataclass
class ApplyReport:
    flagged: list[tuple[str, str]] = field(default_factory=list)
    unflagged: list[tuple[str, str]] = field(default_factory=list)
    repaired: list[tuple[str, str]] = field(default_factory=list)
    status_changes: int = 0
    events: int = 0
    statuses: int = 0


def _number(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _event(base: dict, action: str, old: str | None, new: str, detail: dict) -> dict:
    """One row of reconcile/postgres/budget_event_insert.sql."""
    return {**base, "action": action, "old_status": old, "new_status": new, "detail": Jsonb(detail)}


def write_back(url: str, result: Reconciliation, repair_spend: bool = False) -> ApplyReport:
    """Apply flags, statuses, events (and repairs when asked) for a reconciliation, in one transaction."""
    report = ApplyReport()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        previous = {
            (t, e): s
            for t, e, s in conn.execute(load("reconcile/postgres/budget_status_current.sql")).fetchall()
        }
        flags = {
            kind.label: {
                row[0]: (row[1], row[2])
                for row in conn.execute(compose(load("reconcile/postgres/flags.sql"), kind)).fetchall()
            }
            for kind in KINDS
        }
        events: list[dict] = []
        statuses: list[dict] = []
        with conn.cursor() as cur:
            for row in result.entities.iter_rows(named=True):
                label, entity, status = row["entity_type"], row["entity_id"], row["status"]
                kind = entity_kind(label)
                base = {
                    "entity_type": label,
                    "entity_id": entity,
                    "name": row["name"],
                    "ledger_spend": _number(row["ledger_spend"]),
                    "recorded_spend": _number(row["recorded_spend"]),
                    "max_budget": _number(row["max_budget"]),
                }
                old = previous.get((label, entity))
                if old != status:
                    events.append(
                        _event(
                            base, "status_changed", old, status, {"utilization": _number(row["utilization"])}
                        )
                    )
                    report.status_changes += 1
                blocked, flagged = flags[label].get(entity, (False, False))
                # users and organizations have no blocked column: the marker is the flag
                persons_block = kind.honours_blocked and blocked and not flagged
                needs_flag = not flagged or (kind.honours_blocked and not blocked)  # new, or unblocked since
                if status == "exceeded" and entity in flags[label] and needs_flag and not persons_block:
                    marker = {
                        "reason": "budget_exceeded",
                        "ledger_spend": base["ledger_spend"],
                        "max_budget": base["max_budget"],
                        "at": now,
                    }
                    cur.execute(
                        compose(load("reconcile/postgres/flag.sql"), kind),
                        {"entity_id": entity, "marker": Jsonb(marker)},
                    )
                    events.append(_event(base, "flagged", old, status, marker))
                    report.flagged.append((label, entity))
                    flagged = True
                elif status in ("ok", "warning") and flagged:
                    cur.execute(compose(load("reconcile/postgres/unflag.sql"), kind), {"entity_id": entity})
                    events.append(_event(base, "unflagged", old, status, {"reason": "back_under_budget"}))
                    report.unflagged.append((label, entity))
                    flagged = False
                if repair_spend and status != "orphaned" and not row["drift_ok"]:
                    cur.execute(
                        compose(load("reconcile/postgres/repair_spend.sql"), kind),
                        {"entity_id": entity, "drift": row["drift"]},
                    )
                    repair = {
                        "recorded_spend": base["recorded_spend"],
                        "ledger_spend": base["ledger_spend"],
                        "drift": _number(row["drift"]),
                    }
                    events.append(_event(base, "spend_repaired", old, status, repair))
                    report.repaired.append((label, entity))
                statuses.append(
                    {
                        **base,
                        "status": status,
                        "drift": _number(row["drift"]),
                        "utilization": _number(row["utilization"]),
                        "first_exceeded_at": row["first_exceeded_at"],
                        "budget_duration": row["budget_duration"],
                        "window_start": row["window_start"],
                        "top_models": Jsonb(row["top_models"] or []),
                        "flagged": bool(flagged),
                    }
                )
            cur.executemany(load("reconcile/postgres/budget_status_upsert.sql"), statuses)
            if events:
                cur.executemany(load("reconcile/postgres/budget_event_insert.sql"), events)
        report.events = len(events)
        report.statuses = len(statuses)
    return report
