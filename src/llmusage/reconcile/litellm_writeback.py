"""Write-back on a LiteLLM database: blocks a LiteLLM operator can trust.

- Only keys and teams are blocked, the two kinds whose `blocked` column LiteLLM honours; users and
  organizations get a status and events in llmusage's own tables, nothing in LiteLLM's.
- A key or team is blocked when it is `exceeded` in its **current** budget period, and the block llmusage set
  is lifted when it is no longer (the period reset or the budget was raised).
- llmusage writes nothing into LiteLLM's rows but `blocked`: which blocks are its own is recorded in
  `llmusage.budget_status` (`flagged`, with the period `window_start`). A block that llmusage did not set is
  a person's, never lifted. A block llmusage set that is found lifted was lifted by a person: that is
  recorded (an `unflagged` event with `by: person` and the period) and respected, the entity is not
  blocked again within that period.
- Blocks go through LiteLLM's management API when configured (`LitellmApi`), else into the table, with
  the cache delay stated (`litellm_api.CACHE_DELAY`). Spend columns are never written.
- A call the API refuses (or an API that is down) fails the whole write-back: llmusage's transaction writes
  nothing, and the changes the API already made in this write-back are put back through it, newest first,
  so that LiteLLM's blocks still agree with llmusage's record (a block of llmusage's left in place without
  that record would pass for a person's and never be lifted); what could not be put back is named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from llmusage.entities import KEY, TEAM, compose, entity_kind
from llmusage.errors import LlmusageError
from llmusage.reconcile.compute import Reconciliation
from llmusage.reconcile.events import (
    ApplyReport,
    action,
    event,
    event_base,
    number,
    period_key,
    status_row,
)
from llmusage.reconcile.litellm_api import LitellmApi
from llmusage.sqlfiles import load

BLOCKABLE = {KEY.label, TEAM.label}


def write_back_litellm(
    conn: psycopg.Connection, result: Reconciliation, report: ApplyReport, api: LitellmApi | None
) -> tuple[list[dict], list[dict]]:
    """Set and lift blocks (see the module docstring); returns (events, status rows) for the caller to write
    in its transaction. Blocks through the API happen as they are decided, table writes in the transaction."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    previous = {
        (t, e): (status, bool(flagged), started)
        for t, e, status, flagged, started in conn.execute(
            load("reconcile/postgres/budget_flags_current.sql")
        )
    }
    lifted = {(t, e, p) for t, e, p in conn.execute(load("reconcile/postgres/lifted_by_person.sql"))}

    done: list[tuple[str, str, bool]] = []  # what LiteLLM's API changed in this write-back

    def set_blocked(label: str, entity: str, blocked: bool) -> None:
        if api is not None:
            api.set_blocked(label, entity, blocked)
            done.append((label, entity, blocked))
        else:
            conn.execute(
                compose(load("reconcile/postgres/litellm_set_blocked.sql"), entity_kind(label)),
                {"entity_id": entity, "blocked": blocked},
            )

    events: list[dict] = []
    statuses: list[dict] = []
    try:
        for row in result.entities.iter_rows(named=True):
            label, entity, status = row["entity_type"], row["entity_id"], row["status"]
            period = period_key(row["window_start"])
            base = event_base(row)
            old, ours, ours_period = previous.get((label, entity), (None, False, None))
            if old != status:
                events.append(
                    event(base, "status_changed", old, status, {"utilization": number(row["utilization"])})
                )
                report.status_changes += 1
            blocked = bool(row["blocked"])
            flagged = False
            if label in BLOCKABLE:
                decision = Decision(
                    label, entity, status, period, blocked, ours, period_key(ours_period), old, base
                )
                flagged = decision.apply(lifted, now, set_blocked, events, report)
            statuses.append(status_row(base, row, flagged))
            # a block in LiteLLM's column that llmusage did not record as its own is a person's
            holds = action(flagged, True, blocked and not ours and not flagged)
            if holds:
                report.actions[(label, entity)] = holds
    except LlmusageError as exc:
        if api is None:
            raise
        raise LlmusageError(_undo(api, done, exc)) from exc
    return events, statuses


def _undo(api: LitellmApi, done: list[tuple[str, str, bool]], error: LlmusageError) -> str:
    """Put back, newest first, what LiteLLM's API changed before `error`; returns the message for the user."""
    stuck = []
    for label, entity, blocked in reversed(done):
        try:
            api.set_blocked(label, entity, not blocked)
        except LlmusageError:
            stuck.append(f"{label} {entity} left {'blocked' if blocked else 'unblocked'}")
    if stuck:
        return (
            f"{error}; nothing written to llmusage's tables, but LiteLLM's API could not put back: "
            f"{', '.join(stuck)} (set these back in LiteLLM by hand)"
        )
    undone = f" ({len(done)} change(s) LiteLLM's API had made undone)" if done else ""
    return f"{error}; nothing written{undone}"


@dataclass(frozen=True)
class Decision:
    """One key's or team's block, decided from its status and what llmusage recorded last time."""

    label: str
    entity: str
    status: str
    period: str  # the current budget period's start ('' for a lifetime budget)
    blocked: bool  # LiteLLM's column now
    ours: bool  # llmusage recorded a block of its own
    ours_period: str  # the period llmusage's block was set in
    old: str | None  # the previous status
    base: dict  # the event's common fields

    def apply(
        self,
        lifted: set[tuple[str, str, str]],
        now: str,
        set_blocked: Callable[[str, str, bool], None],
        events: list[dict],
        report: ApplyReport,
    ) -> bool:
        """Set, lift, record a person's lift, or leave; returns whether llmusage holds a block afterwards."""
        key = (self.label, self.entity)
        if self.ours and not self.blocked:  # llmusage's block is gone: a person lifted it
            detail = {"by": "person", "period_start": self.ours_period}
            events.append(event(self.base, "unflagged", self.old, self.status, detail))
            lifted.add((*key, self.ours_period))
        ours = self.ours and self.blocked
        if self.status == "exceeded":
            if self.blocked or (*key, self.period) in lifted:
                return (
                    ours  # refused already (by llmusage or a person), or a person let it through this period
                )
            set_blocked(self.label, self.entity, True)
            marker = {"reason": "budget_exceeded", "ledger_spend": self.base["ledger_spend"],
                      "max_budget": self.base["max_budget"], "period_start": self.period, "at": now}  # fmt: skip
            events.append(event(self.base, "flagged", self.old, self.status, marker))
            report.flagged.append(key)
            return True
        if ours:  # back under budget in the current period: lift llmusage's own block
            set_blocked(self.label, self.entity, False)
            detail = {"reason": "back_under_budget", "by": "llmusage"}
            events.append(event(self.base, "unflagged", self.old, self.status, detail))
            report.unflagged.append(key)
        return False
