"""Writing reconciliation back to PostgreSQL, in one transaction, idempotently.

- An exceeded key or team is blocked (`blocked = true`) and an exceeded user or organization flagged,
  each with the marker `llmusage_block` (reason, ledger spend, budget, time) in its metadata
  (`user_metadata` for users). The proxy refuses all four.
- A flag is lifted only where the marker says llmusage set it, once the entity is back under budget
  (budget raised, spend reset, window rolled over). A block without the marker is a person's and is
  never lifted.
- `llmusage_budget_status` holds every entity's current status (upserted); `llmusage_budget_events`
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

from llmusage.pg.connect import connect
from llmusage.reconcile.compute import Reconciliation
from llmusage.reconcile.snapshot import ENTITY_TYPES
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


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


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
            kind: {
                row[0]: (row[1], row[2])
                for row in conn.execute(load(f"reconcile/postgres/flags_{kind}.sql")).fetchall()
            }
            for kind in ENTITY_TYPES
        }
        events: list[dict] = []
        statuses: list[dict] = []
        with conn.cursor() as cur:
            for row in result.entities.iter_rows(named=True):
                kind, entity, status = row["entity_type"], row["entity_id"], row["status"]
                base = {
                    "entity_type": kind,
                    "entity_id": entity,
                    "name": row["name"],
                    "ledger_spend": _number(row["ledger_spend"]),
                    "recorded_spend": _number(row["recorded_spend"]),
                    "max_budget": _number(row["max_budget"]),
                }
                old = previous.get((kind, entity))
                if old != status:
                    events.append({**base, "action": "status_changed", "old_status": old, "new_status": status,
                                   "detail": Jsonb({"utilization": _number(row["utilization"])})})  # fmt: skip
                    report.status_changes += 1
                blocked, flagged = flags[kind].get(entity, (False, False))
                has_block_column = kind in ("key", "team")  # users and organizations: the marker is the flag
                persons_block = has_block_column and blocked and not flagged
                needs_flag = not flagged or (has_block_column and not blocked)  # new, or unblocked since
                if status == "exceeded" and entity in flags[kind] and needs_flag and not persons_block:
                    marker = {
                        "reason": "budget_exceeded",
                        "ledger_spend": base["ledger_spend"],
                        "max_budget": base["max_budget"],
                        "at": now,
                    }
                    cur.execute(
                        load(f"reconcile/postgres/flag_{kind}.sql"),
                        {"entity_id": entity, "marker": Jsonb(marker)},
                    )  # type: ignore[arg-type]
                    events.append({**base, "action": "flagged", "old_status": old, "new_status": status,
                                   "detail": Jsonb(marker)})  # fmt: skip
                    report.flagged.append((kind, entity))
                    flagged = True
                elif status in ("ok", "warning") and flagged:
                    cur.execute(load(f"reconcile/postgres/unflag_{kind}.sql"), {"entity_id": entity})  # type: ignore[arg-type]
                    events.append({**base, "action": "unflagged", "old_status": old, "new_status": status,
                                   "detail": Jsonb({"reason": "back_under_budget"})})  # fmt: skip
                    report.unflagged.append((kind, entity))
                    flagged = False
                if repair_spend and status != "orphaned" and not row["drift_ok"]:
                    cur.execute(
                        load(f"reconcile/postgres/repair_spend_{kind}.sql"),
                        {"entity_id": entity, "drift": row["drift"]},
                    )  # type: ignore[arg-type]
                    events.append({**base, "action": "spend_repaired", "old_status": old, "new_status": status,
                                   "detail": Jsonb({"recorded_spend": base["recorded_spend"],
                                                    "ledger_spend": base["ledger_spend"],
                                                    "drift": _number(row["drift"])})})  # fmt: skip
                    report.repaired.append((kind, entity))
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
            cur.executemany(load("reconcile/postgres/budget_status_upsert.sql"), statuses)  # type: ignore[arg-type]
            if events:
                cur.executemany(load("reconcile/postgres/budget_event_insert.sql"), events)  # type: ignore[arg-type]
        report.events = len(events)
        report.statuses = len(statuses)
    return report
