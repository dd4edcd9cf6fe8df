"""What `llmusage db status` and the seed summary show: server, migrations, row counts, spend, overruns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from llmusage import sqlfiles
from llmusage.pg import migrations

TABLES = (  # the operational tables, parents first (what `db status` counts and `seed --reset` empties)
    "LiteLLM_OrganizationTable",
    "LiteLLM_TeamTable",
    "LiteLLM_UserTable",
    "LiteLLM_VerificationToken",
    "LiteLLM_ProxyModelTable",
    "LiteLLM_SpendLogs",
)


@dataclass(frozen=True)
class OverBudget:
    entity_type: str
    entity_id: str
    name: str
    spend: float
    max_budget: float


@dataclass(frozen=True)
class Summary:
    server_version: str
    applied: list[migrations.Applied]
    pending: list[str]
    counts: dict[str, int | None]  # None: the table does not exist (schema not migrated)
    requests: int
    spend: float
    first: datetime | None
    last: datetime | None
    over_budget: list[OverBudget]


def row_counts(conn: psycopg.Connection) -> dict[str, int | None]:
    counts: dict[str, int | None] = {}
    for table in TABLES:
        exists = conn.execute("SELECT to_regclass(%s)", (f'"{table}"',)).fetchone()
        if not exists or exists[0] is None:
            counts[table] = None
            continue
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def summarize(conn: psycopg.Connection) -> Summary:
    version = conn.execute("SHOW server_version").fetchone()
    applied = migrations.applied(conn)
    done = {a.version for a in applied}
    pending = [m.path.name for m in migrations.discover() if m.version not in done]
    counts = row_counts(conn)
    requests, spend, first, last = 0, 0.0, None, None
    over: list[OverBudget] = []
    if all(v is not None for v in counts.values()):
        row = conn.execute(sqlfiles.load("status/spend_summary.sql")).fetchone()
        if row:
            requests, spend, first, last = int(row[0]), float(row[1]), row[2], row[3]
        over = [OverBudget(*r) for r in conn.execute(sqlfiles.load("status/over_budget.sql")).fetchall()]
    return Summary(
        server_version=str(version[0]) if version else "?",
        applied=applied,
        pending=pending,
        counts=counts,
        requests=requests,
        spend=spend,
        first=first,
        last=last,
        over_budget=over,
    )
