"""What the seed writes after the logs: each entity's spend column, budgets, and the anomalies asked for.

`entity_spend` sums the logs' spend per key, user, team and organization (a log's organization is its
team's, else its user's), `write_spend` stores those sums in the spend columns, `set_budgets` gives the
entities that have one a budget above their spend, and `plant_anomalies` makes what reconciliation must
find: drifted spend columns, entities over budget, a deleted key with spend and late rows.
"""

from __future__ import annotations

import math
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import timedelta
from typing import LiteralString

import numpy as np
import psycopg
from psycopg import sql

from llmusage.devtools.seed.org import Organization
from llmusage.devtools.seed.traffic import Window
from llmusage.entities import KINDS, entity_kind


@dataclass
class Anomaly:
    kind: str  # drift | over_budget | late_rows | deleted_key
    entity_type: str  # key | user | team | organization | spend_log
    entity_id: str
    detail: dict[str, object] = field(default_factory=dict)


@dataclass
class EntitySpend:
    key: dict[str, float]
    user: dict[str, float]
    team: dict[str, float]
    organization: dict[str, float]

    def of(self, kind: str) -> dict[str, float]:
        """The spend by entity id of one kind (`key`, `user`, `team`, `organization`)."""
        return {"key": self.key, "user": self.user, "team": self.team, "organization": self.organization}[
            kind
        ]


def entity_spend(org: Organization, key_spend: dict[str, float]) -> EntitySpend:
    users: dict[str, float] = {u.user_id: 0.0 for u in org.users}
    teams: dict[str, float] = {t.team_id: 0.0 for t in org.teams}
    orgs: dict[str, float] = {o.organization_id: 0.0 for o in org.orgs}
    team_org = {t.team_id: t.organization_id for t in org.teams}
    user_org = {u.user_id: u.organization_id for u in org.users}
    keys = {k.token: 0.0 for k in org.keys}
    for key in org.keys:
        amount = key_spend.get(key.token, 0.0)
        keys[key.token] = amount
        if key.user_id:
            users[key.user_id] += amount
        if key.team_id:
            teams[key.team_id] += amount
        org_id = team_org.get(key.team_id) if key.team_id else None
        org_id = org_id or (user_org.get(key.user_id) if key.user_id else None)
        if org_id:
            orgs[org_id] += amount
    return EntitySpend(key=keys, user=users, team=teams, organization=orgs)


def _update(kind: str, column: LiteralString) -> sql.Composed:
    """`UPDATE <the kind's table> SET <column> = %s WHERE <its id column> = %s`."""
    entity = entity_kind(kind)
    return sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s").format(
        entity.identifier(), sql.Identifier(column), entity.identifier(entity.id_column)
    )


def write_spend(conn: psycopg.Connection, spend: EntitySpend) -> None:
    with conn.cursor() as cur:
        for kind in KINDS:
            values = spend.of(kind.label)
            cur.executemany(
                _update(kind.label, "spend"), [(amount, entity) for entity, amount in values.items()]
            )


def _nice(amount: float, up: bool = True) -> float:
    """`amount` rounded to two significant digits (up or down): budgets people would set."""
    if amount <= 0:
        return 1.0
    magnitude = 10 ** (math.floor(math.log10(amount)) - 1)
    steps = math.ceil(amount / magnitude) if up else max(1, math.floor(amount / magnitude))
    return round(steps * magnitude, 10)


def set_budgets(
    conn: psycopg.Connection, org: Organization, spend: EntitySpend, rng: np.random.Generator
) -> None:
    """Budgets above current spend: most comfortably (ok), some close to it (warning)."""

    def budget(amount: float) -> float:
        factor = rng.uniform(1.03, 1.2) if rng.random() < 0.25 else rng.uniform(1.4, 3.0)
        return _nice(max(amount, 0.5) * factor)

    rows: dict[str, list[tuple[float, str]]] = {
        "key": [(budget(spend.key[k.token]), k.token) for k in org.keys if k.has_budget],
        "user": [(budget(spend.user[u.user_id]), u.user_id) for u in org.users if u.has_budget],
        "team": [(budget(spend.team[t.team_id]), t.team_id) for t in org.teams if t.has_budget],
        "organization": [
            (budget(spend.organization[o.organization_id]), o.organization_id) for o in org.orgs[:2]
        ],
    }
    with conn.cursor() as cur:
        for kind, values in rows.items():
            cur.executemany(_update(kind, "max_budget"), values)


def plant_anomalies(
    conn: psycopg.Connection,
    org: Organization,
    spend: EntitySpend,
    window: Window,
    logs: int,
    rng: np.random.Generator,
) -> list[Anomaly]:
    """Drifted spend columns, entities over budget, late rows and a deleted key with spend."""
    found: list[Anomaly] = []
    blocked = {t.team_id for t in org.teams if t.blocked}

    def pick(values: dict[str, float], n: int, exclude: Set[str] = frozenset()) -> list[str]:
        candidates = sorted(e for e, amount in values.items() if amount > 0 and e not in exclude)
        if not candidates:
            return []
        return [str(e) for e in rng.choice(candidates, min(n, len(candidates)), replace=False)]

    with conn.cursor() as cur:
        over: dict[str, list[str]] = {
            "key": pick(spend.key, 2),
            "user": pick(spend.user, 1),
            "team": pick(spend.team, 2, blocked),
            "organization": pick(spend.organization, 1),
        }
        for kind, entities in over.items():
            values = spend.of(kind)
            for entity in entities:
                limit = _nice(values[entity] * rng.uniform(0.5, 0.92), up=False)
                cur.execute(_update(kind, "max_budget"), (limit, entity))
                found.append(
                    Anomaly("over_budget", kind, entity, {"ledger": values[entity], "max_budget": limit})
                )

        drift: dict[str, list[str]] = {
            "key": pick(spend.key, 3, set(over["key"])),
            "user": pick(spend.user, 2, set(over["user"])),
            "team": pick(spend.team, 1, set(over["team"])),
            "organization": pick(spend.organization, 1, set(over["organization"])),
        }
        for kind, entities in drift.items():
            values = spend.of(kind)
            for entity in entities:
                factor = rng.uniform(1.1, 1.4) if rng.random() < 0.5 else rng.uniform(0.6, 0.9)
                recorded = values[entity] * factor
                cur.execute(_update(kind, "spend"), (recorded, entity))
                found.append(Anomaly("drift", kind, entity, {"ledger": values[entity], "recorded": recorded}))

        untouched = {k.token for k in org.keys} - set(over["key"]) - set(drift["key"])
        deleted = pick({t: spend.key[t] for t in untouched}, 1)
        for token in deleted:
            cur.execute('DELETE FROM "LiteLLM_VerificationToken" WHERE token = %s', (token,))
            found.append(Anomaly("deleted_key", "key", token, {"ledger": spend.key[token]}))

    late = max(10, logs // 1000) if logs >= 100 else 0
    if late:
        found.append(
            Anomaly(
                "late_rows",
                "spend_log",
                "",
                {"rows": late, "created_after": str(window.end - timedelta(minutes=110)), "written": "last"},
            )
        )
    return found
