"""Who is over budget, by how much, since when and what was done about it: the rows ops read at a glance
(the Dagster check `no_budget_exceeded`, `budget_flags`' metadata), built from a saved reconciliation.

An entity is named for people: its alias or email with a short prefix of its id (`search-api (3f2a9c1e)`),
never a 64-character key digest alone. `over_by` is what it spent in the period beyond its budget (on the
amount the status was judged on: the ledger, or the gateway's counter where retention or LiteLLM's reset lag
explains the drift). The action is what holds on it now:

| action                | meaning                                                                        |
| --------------------- | ------------------------------------------------------------------------------ |
| `blocked`             | llmusage blocked it (a key or team: the gateway refuses it)                    |
| `flagged`             | llmusage flagged it (a user or organization: the marker the llmusage proxy refuses) |
| `blocked by a person` | blocked, but not by llmusage: a person's block, which llmusage never lifts     |
| `none`                | nothing holds (not written back yet, a person lifted llmusage's block in this period, or a kind never written back) |

What llmusage holds comes from its own record in PostgreSQL after a write-back (`holds`), both flavours
alike; without it, from the reconciliation's snapshot (the state before its write-back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from llmusage.entities import KINDS
from llmusage.pg.connect import connect
from llmusage.sqlfiles import load

BLOCKED, FLAGGED, BY_PERSON, NONE = "blocked", "flagged", "blocked by a person", "none"
ID_PREFIX = 8
"""How many characters of an id name an entity beside its alias (a key digest has 64)."""
_HONOURS_BLOCKED = {kind.label for kind in KINDS if kind.honours_blocked}

Holds = Mapping[tuple[str, str], bool]
"""(entity type, entity id) -> whether llmusage holds a block or flag on it."""


@dataclass(frozen=True)
class Breach:
    """One entity at or over its budget in its current period."""

    entity: str
    kind: str
    entity_id: str
    period: str
    ledger: float
    budget: float
    over_by: float
    utilization: float | None
    first_exceeded_at: datetime | None
    action: str


@dataclass(frozen=True)
class PersonBlock:
    """An entity blocked by someone other than llmusage (never lifted by llmusage)."""

    entity: str
    kind: str
    entity_id: str
    status: str


def entity_label(name: str | None, entity_id: str) -> str:
    """`alias (id prefix)`; the id prefix alone when the entity has no name of its own."""
    short = entity_id if len(entity_id) <= ID_PREFIX + 4 else entity_id[:ID_PREFIX]
    if not name or name == entity_id:
        return short if short == entity_id else f"{short}…"
    return f"{name} ({short})"


def period_label(duration: str | None, window_start: datetime | None) -> str:
    """`lifetime`, or the budget's duration and the start of its current window (`30d from 2026-11-05`)."""
    if window_start is None:
        return "lifetime"
    return f"{duration or 'period'} from {window_start:%Y-%m-%d %H:%M}"


def action(kind: str, blocked: bool, held: bool) -> str:
    if held:
        return BLOCKED if kind in _HONOURS_BLOCKED else FLAGGED
    return BY_PERSON if blocked else NONE


def holds(url: str) -> dict[tuple[str, str], bool]:
    """llmusage's own record of what it holds, as the last write-back left it (`llmusage.budget_status`)."""
    with connect(url) as conn:
        rows = conn.execute(load("reconcile/postgres/budget_flags_current.sql")).fetchall()
    return {(t, e): bool(flagged) for t, e, _status, flagged, _start in rows}


def _held(row: dict, held: Holds | None) -> bool:
    if held is None:  # the reconciliation's snapshot: llmusage's marker as it was before the write-back
        return bool(row["flagged"])
    return held.get((row["entity_type"], row["entity_id"]), False)


def breaches(entities: pl.DataFrame, held: Holds | None = None) -> list[Breach]:
    """Every exceeded entity of a reconciliation, worst first (its order), with what holds on it."""
    out = []
    for row in entities.filter(pl.col("status") == "exceeded").iter_rows(named=True):
        budget = float(row["max_budget"])
        spent = row["utilization"] * budget if row["utilization"] is not None else row["ledger_spend"]
        out.append(
            Breach(
                entity=entity_label(row["name"], row["entity_id"]),
                kind=row["entity_type"],
                entity_id=row["entity_id"],
                period=period_label(row["budget_duration"], row["window_start"]),
                ledger=float(row["ledger_spend"]),
                budget=budget,
                over_by=max(spent - budget, 0.0),
                utilization=row["utilization"],
                first_exceeded_at=row["first_exceeded_at"],
                action=action(row["entity_type"], bool(row["blocked"]), _held(row, held)),
            )
        )
    return out


def person_blocks(
    entities: pl.DataFrame, held: Holds | None = None, lifted: set[tuple[str, str]] = frozenset()
) -> list[PersonBlock]:
    """Entities blocked when the reconciliation read them that llmusage does not hold (`lifted`: blocks of
    llmusage's that its write-back just lifted, which are not a person's)."""
    out = []
    for row in entities.filter(pl.col("blocked")).iter_rows(named=True):
        key = (row["entity_type"], row["entity_id"])
        if key in lifted or _held(row, held):
            continue
        out.append(
            PersonBlock(
                entity=entity_label(row["name"], row["entity_id"]),
                kind=row["entity_type"],
                entity_id=row["entity_id"],
                status=row["status"],
            )
        )
    return out


@dataclass(frozen=True)
class Change:
    """What one write-back did to one entity: `blocked`/`flagged` set, `unblocked`/`unflagged` lifted."""

    entity: str
    kind: str
    entity_id: str
    change: str
    period: str


def changes(
    entities: pl.DataFrame, flagged: list[tuple[str, str]], unflagged: list[tuple[str, str]]
) -> list[Change]:
    """A write-back's report (`ApplyReport.flagged`, `.unflagged`: (type, id) pairs) named for people."""
    rows = {(r["entity_type"], r["entity_id"]): r for r in entities.iter_rows(named=True)}
    out = []
    for pairs, set_ in ((flagged, True), (unflagged, False)):
        for kind, entity_id in pairs:
            row = rows.get((kind, entity_id), {})
            verb = BLOCKED if kind in _HONOURS_BLOCKED else FLAGGED
            out.append(
                Change(
                    entity=entity_label(row.get("name"), entity_id),
                    kind=kind,
                    entity_id=entity_id,
                    change=verb if set_ else f"un{verb}",
                    period=period_label(row.get("budget_duration"), row.get("window_start")),
                )
            )
    return out
