"""What `llmusage db status` and the seed summary show: server, flavour, migrations, row counts, spend, overruns.

Both flavours: the spend summary and the overruns come from the flavour's own queries
(`sql/sources/<flavour>/status_*.sql`), since LiteLLM keeps event time in `"startTime"` and an
organization's budget in `LiteLLM_BudgetTable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from llmusage import sqlfiles
from llmusage.pg import ledger, migrations
from llmusage.sources.detect import Detected, Flavour, detect

TABLES = (  # the operational tables, parents first (what `db status` counts and `seed --reset` empties)
    "LiteLLM_OrganizationTable",
    "LiteLLM_TeamTable",
    "LiteLLM_UserTable",
    "LiteLLM_VerificationToken",
    "LiteLLM_ProxyModelTable",
    "LiteLLM_SpendLogs",
)
LITELLM_TABLES = ("LiteLLM_BudgetTable",)
"""Operational tables of the LiteLLM flavour only (counted there)."""
OWN_TABLES = (
    "llmusage.budget_status",
    "llmusage.budget_events",
    "llmusage.alerts",
    "llmusage.spend_log_prunes",
)
"""llmusage's own tables (schema `llmusage`), counted in both flavours."""

_QUERIES = {  # (spend summary, over budget) per flavour
    Flavour.LLMUSAGE: (
        "sources/llmusage/status_spend_summary.sql",
        "sources/llmusage/status_over_budget.sql",
    ),
    Flavour.LITELLM: ("sources/litellm/status_spend_summary.sql", "sources/litellm/status_over_budget.sql"),
}


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
    detected: Detected
    applied: list[ledger.Applied]
    pending: list[str]
    skipping: list[str]
    """The pending migrations that `db migrate` will record as skipped on this flavour."""
    counts: dict[str, int | None]  # None: the table does not exist (schema not migrated)
    requests: int
    spend: float
    first: datetime | None
    last: datetime | None
    over_budget: list[OverBudget]


def _regclass(table: str) -> str:
    return ".".join(f'"{part}"' for part in table.split("."))


def row_counts(conn: psycopg.Connection, tables: tuple[str, ...] = TABLES) -> dict[str, int | None]:
    """Rows per table (`schema.table` or a table of the search path); None where the table does not exist."""
    counts: dict[str, int | None] = {}
    for table in tables:
        exists = conn.execute("SELECT to_regclass(%s)", (_regclass(table),)).fetchone()
        if not exists or exists[0] is None:
            counts[table] = None
            continue
        name = sql.Identifier(*table.split("."))
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name)).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def summarize(conn: psycopg.Connection) -> Summary:
    version = conn.execute("SHOW server_version").fetchone()
    detected = detect(conn)
    applied = migrations.applied(conn)
    done = {a.version for a in applied}
    todo = [m for m in migrations.discover() if m.version not in done]
    operational = (*TABLES, *LITELLM_TABLES) if detected.flavour is Flavour.LITELLM else TABLES
    counts = row_counts(conn, (*operational, *OWN_TABLES))
    requests, spend, first, last = 0, 0.0, None, None
    over: list[OverBudget] = []
    if all(counts[t] is not None for t in operational):
        spend_sql, over_sql = _QUERIES[
            Flavour.LITELLM if detected.flavour is Flavour.LITELLM else Flavour.LLMUSAGE
        ]
        row = conn.execute(sqlfiles.load(spend_sql)).fetchone()
        if row:
            requests, spend, first, last = int(row[0]), float(row[1]), row[2], row[3]
        over = [OverBudget(*r) for r in conn.execute(sqlfiles.load(over_sql)).fetchall()]
    return Summary(
        server_version=str(version[0]) if version else "?",
        detected=detected,
        applied=applied,
        pending=[m.path.name for m in todo],
        skipping=[m.path.name for m in todo if not m.applies_to(detected.flavour)],
        counts=counts,
        requests=requests,
        spend=spend,
        first=first,
        last=last,
        over_budget=over,
    )
