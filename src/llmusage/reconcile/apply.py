"""Writing reconciliation back to PostgreSQL, in one transaction, idempotently.

- An exceeded key or team is blocked (`blocked = true`) and an exceeded user or organization flagged,
  each with the marker `llmusage.entities.BLOCK_MARKER` (reason, ledger spend, budget, time) in its metadata
  (`user_metadata` for users). The proxy refuses all four.
- A flag is lifted only where the marker says llmusage set it, once the entity is back under budget
  (budget raised, spend reset, window rolled over). A block without the marker is a person's and is
  never lifted. A block of llmusage's that a person lifted (the key or team unblocked, or the marker
  removed) is recorded (an `unflagged` event with `by: person` and the budget period) and not re-imposed
  within that period (`''`, a lifetime budget: never).
- `llmusage.budget_status` holds every entity's current status (upserted); `llmusage.budget_events`
  gets one row per status change and one per flag set or lifted or spend repaired, so a re-run with
  nothing changed writes no event.
- On a LiteLLM database: `litellm_writeback`'s rules (keys and teams only, current period, a person's
  unblock respected, through LiteLLM's API when configured); `repair_spend` is refused there.
- With an alert policy (`llmusage.alerts`), every budget threshold and soft budget crossed is recorded in
  `llmusage.alerts` in the same transaction (new ones only: the log is unique per entity, threshold and
  period), with the action the write-back left in force; the caller delivers them after commit.
- `repair_spend` sets drifted `spend` columns to the ledger by subtracting the drift measured in the
  snapshot, so spend the proxy added meanwhile is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg.types.json import Jsonb

from llmusage.alerts import store as alert_log
from llmusage.alerts.crossings import budget_alerts
from llmusage.alerts.policy import AlertPolicy
from llmusage.entities import KINDS, compose, entity_kind
from llmusage.errors import LlmusageError
from llmusage.pg.connect import connect
from llmusage.reconcile.compute import Reconciliation
from llmusage.reconcile.events import ApplyReport, action, event, event_base, number, period_key, status_row
from llmusage.reconcile.litellm_api import LitellmApi
from llmusage.reconcile.litellm_writeback import write_back_litellm
from llmusage.sources.detect import Flavour
from llmusage.sqlfiles import load

_LOCK_KEY = 0x6C6C7265  # "llre": one write-back at a time
REPAIR_REFUSED = (
    "--repair-spend is refused on a LiteLLM database: LiteLLM owns its spend counters (its reset job zeroes "
    "them each budget period); see drift and its cause in the reconciliation instead"
)


def write_back(
    url: str,
    result: Reconciliation,
    repair_spend: bool = False,
    litellm_api: LitellmApi | None = None,
    alerts: AlertPolicy | None = None,
) -> ApplyReport:
    """Apply flags, statuses, events (and repairs when asked) for a reconciliation, in one transaction,
    and record the budget alerts it raises when there is an alert policy. On a LiteLLM database the rules
    of `litellm_writeback` apply, and spend is never repaired."""
    report = ApplyReport()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if result.flavour is Flavour.LITELLM and repair_spend:
        raise LlmusageError(REPAIR_REFUSED)
    with connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        if result.flavour is Flavour.LITELLM:
            events, statuses = write_back_litellm(conn, result, report, litellm_api)
            with conn.cursor() as cur:
                cur.executemany(load("reconcile/postgres/budget_status_upsert.sql"), statuses)
                if events:
                    cur.executemany(load("reconcile/postgres/budget_event_insert.sql"), events)
            report.events, report.statuses = len(events), len(statuses)
            if alerts is not None:
                report.alerts = alert_log.record(
                    conn, budget_alerts(result.entities, report.actions, alerts.thresholds)
                )
            return report
        previous = {
            (t, e): (status, bool(flagged), period_key(started))
            for t, e, status, flagged, started in conn.execute(
                load("reconcile/postgres/budget_flags_current.sql")
            )
        }
        lifted = {(t, e, p) for t, e, p in conn.execute(load("reconcile/postgres/lifted_by_person.sql"))}
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
                base = event_base(row)
                old, ours, ours_period = previous.get((label, entity), (None, False, ""))
                period = period_key(row["window_start"])
                if old != status:
                    events.append(
                        event(
                            base, "status_changed", old, status, {"utilization": number(row["utilization"])}
                        )
                    )
                    report.status_changes += 1
                blocked, flagged = flags[label].get(entity, (False, False))
                # a block of llmusage's that is gone (the marker, or the blocked column the gateway
                # honours) was lifted by a person: recorded, and not re-imposed within that period
                if (flagged and kind.honours_blocked and not blocked) or (ours and not flagged):
                    if flagged:  # the marker of a block that no longer holds
                        cur.execute(
                            compose(load("reconcile/postgres/unflag.sql"), kind), {"entity_id": entity}
                        )
                    lift = {"by": "person", "period_start": ours_period if ours else period}
                    events.append(event(base, "unflagged", old, status, lift))
                    lifted.add((label, entity, lift["period_start"]))
                    blocked, flagged = False, False
                # users and organizations have no blocked column: the marker is the flag
                persons_block = kind.honours_blocked and blocked and not flagged
                if (
                    status == "exceeded"
                    and entity in flags[label]
                    and not flagged
                    and not persons_block
                    and (label, entity, period) not in lifted
                ):
                    marker = {
                        "reason": "budget_exceeded",
                        "ledger_spend": base["ledger_spend"],
                        "max_budget": base["max_budget"],
                        "period_start": period,
                        "at": now,
                    }
                    cur.execute(
                        compose(load("reconcile/postgres/flag.sql"), kind),
                        {"entity_id": entity, "marker": Jsonb(marker)},
                    )
                    events.append(event(base, "flagged", old, status, marker))
                    report.flagged.append((label, entity))
                    flagged = True
                elif status in ("ok", "warning") and flagged:
                    cur.execute(compose(load("reconcile/postgres/unflag.sql"), kind), {"entity_id": entity})
                    events.append(event(base, "unflagged", old, status, {"reason": "back_under_budget"}))
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
                        "drift": number(row["drift"]),
                    }
                    events.append(event(base, "spend_repaired", old, status, repair))
                    report.repaired.append((label, entity))
                statuses.append(status_row(base, row, bool(flagged)))
                holds = action(bool(flagged), kind.honours_blocked, persons_block and not flagged)
                if holds:
                    report.actions[(label, entity)] = holds
            cur.executemany(load("reconcile/postgres/budget_status_upsert.sql"), statuses)
            if events:
                cur.executemany(load("reconcile/postgres/budget_event_insert.sql"), events)
        report.events = len(events)
        report.statuses = len(statuses)
        if alerts is not None:
            report.alerts = alert_log.record(
                conn, budget_alerts(result.entities, report.actions, alerts.thresholds)
            )
    return report
