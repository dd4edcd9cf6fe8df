"""The SQL side of the LiteLLM seed: plain inserts for the entities, COPY for logs and daily tables.

Rows carry what LiteLLM's management endpoints and writers put there: `created_by`/`updated_by` the admin
(`default_user_id`), key tags in `metadata.tags`, team members in `members` and `members_with_roles`,
`last_active` on keys that were used, end-user rows only for end users that were charged (the writer upserts
them) or given a budget, tag rows only for tags an admin created (the writer only updates existing ones).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import LiteralString

import polars as pl
import psycopg
from psycopg.types.json import Jsonb

from llmusage.devtools.seed.litellm.accounting import DAILY_TABLES, Sums
from llmusage.devtools.seed.litellm.cast import ADMIN_USER, Cast

ENTITY_TABLES: tuple[LiteralString, ...] = (
    "LiteLLM_TeamMembership",
    "LiteLLM_TagTable",
    "LiteLLM_EndUserTable",
    "LiteLLM_VerificationToken",
    "LiteLLM_UserTable",
    "LiteLLM_TeamTable",
    "LiteLLM_OrganizationTable",
    "LiteLLM_BudgetTable",
)  # in the order rows can be deleted (referencing tables first)
BULK_TABLES: tuple[LiteralString, ...] = ("LiteLLM_SpendLogs", *DAILY_TABLES)
FILLED_TABLES: tuple[LiteralString, ...] = (*BULK_TABLES, *ENTITY_TABLES)

LOG_COLUMNS = [
    "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
    "startTime", "endTime", "completionStartTime", "request_duration_ms", "model", "model_id", "model_group",
    "custom_llm_provider", "api_base", "user", "metadata", "cache_hit", "cache_key", "request_tags", "team_id",
    "organization_id", "end_user", "requester_ip_address", "messages", "response", "proxy_server_request",
    "session_id", "status", "created_at", "updated_at", "litellm_call_id",
]  # fmt: skip
DAILY_COLUMNS = [
    "date", "api_key", "model", "model_group", "custom_llm_provider", "mcp_namespaced_tool_name", "endpoint",
    "prompt_tokens", "completion_tokens", "cache_read_input_tokens", "spend", "api_requests",
    "successful_requests", "failed_requests", "total_response_time_ms", "timed_requests", "created_at",
    "updated_at",
]  # fmt: skip


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    counts = {}
    for table in FILLED_TABLES:
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def empty_tables(conn: psycopg.Connection) -> None:
    """Remove the rows of every table the seed fills (and only those)."""
    conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in BULK_TABLES))
    for table in ENTITY_TABLES:
        conn.execute(f'DELETE FROM "{table}"')


def _copy(conn: psycopg.Connection, table: str, frame: pl.DataFrame) -> None:
    buf = io.BytesIO()
    frame.write_csv(buf, include_header=False, null_value="\\N", datetime_format="%Y-%m-%d %H:%M:%S%.3f")
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY \"{table}\" ({columns}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy,
    ):  # type: ignore[arg-type]
        copy.write(buf.getvalue())


def write_logs(conn: psycopg.Connection, logs: pl.DataFrame, chunk: int = 250_000) -> None:
    frame = logs.filter(pl.col("_surviving")).select(LOG_COLUMNS)
    for offset in range(0, frame.height, chunk):
        _copy(conn, "LiteLLM_SpendLogs", frame.slice(offset, chunk))


def write_daily(conn: psycopg.Connection, daily: dict[str, pl.DataFrame]) -> None:
    for table, frame in daily.items():
        column = DAILY_TABLES[table][0]
        extra = ["request_id"] if table == "LiteLLM_DailyTagSpend" else []
        _copy(conn, table, frame.select("id", column, *DAILY_COLUMNS, *extra))


def write_entities(
    conn: psycopg.Connection, cast: Cast, sums: dict[tuple[str, str], Sums], last_active: dict[str, datetime]
) -> None:
    def spent(kind: str, id_: str) -> Sums:
        return sums.get((kind, id_), Sums())

    with conn.cursor() as cur:
        cur.executemany(
            'INSERT INTO "LiteLLM_BudgetTable" (budget_id, max_budget, soft_budget, budget_duration, budget_reset_at, '
            "created_at, created_by, updated_at, updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(b.budget_id, b.max_budget, b.soft_budget, b.duration, b.schedule.budget_reset_at if b.schedule else None,
              b.created, ADMIN_USER, (b.schedule.last_reset if b.schedule and b.schedule.last_reset else b.created),
              ADMIN_USER) for b in cast.budgets()],
        )  # fmt: skip
        cur.executemany(
            'INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias, budget_id, metadata, models, '
            "spend, created_at, created_by, updated_at, updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(o.organization_id, o.alias, o.budget.budget_id, Jsonb({}), [], spent("organization", o.organization_id).recorded,
              o.created, ADMIN_USER, o.created, ADMIN_USER) for o in cast.orgs],
        )  # fmt: skip
        emails = {u.user_id: u.email for u in cast.users}
        cur.executemany(
            'INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id, admins, members, members_with_roles, '
            "metadata, max_budget, soft_budget, spend, models, budget_duration, budget_reset_at, blocked, created_at, "
            "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, false, %s, %s)",
            [(t.team_id, t.alias, t.organization_id, t.members[:1], t.members,
              Jsonb([{"role": "admin" if i == 0 else "user", "user_id": m, "user_email": emails.get(m)}
                     for i, m in enumerate(t.members)]),
              Jsonb({}), t.max_budget, t.soft_budget, spent("team", t.team_id).recorded, [], t.duration,
              t.schedule.budget_reset_at if t.schedule else None, t.created, t.created) for t in cast.teams],
        )  # fmt: skip
        cur.executemany(
            'INSERT INTO "LiteLLM_UserTable" (user_id, user_email, user_role, teams, organization_id, max_budget, spend, '
            "models, metadata, budget_duration, budget_reset_at, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(u.user_id, u.email, u.role, u.teams, u.organization_id, u.max_budget, spent("user", u.user_id).recorded,
              [], Jsonb({}), u.duration, u.schedule.budget_reset_at if u.schedule else None, u.created, u.created)
             for u in cast.users],
        )  # fmt: skip
        cur.executemany(
            'INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, spend, total_spend, models, user_id, '
            "team_id, metadata, max_budget, budget_duration, budget_reset_at, budget_id, created_at, created_by, "
            "updated_at, updated_by, last_active) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s, %s)",
            [(k.token, k.key_name, k.alias, spent("key", k.token).recorded, spent("key", k.token).lifetime, [],
              k.user_id, k.team_id, Jsonb({"tags": k.tags} if k.tags else {}), k.max_budget, k.duration,
              k.schedule.budget_reset_at if k.schedule else None, k.budget.budget_id if k.budget else None,
              k.created, ADMIN_USER, k.created, ADMIN_USER, last_active.get(k.token)) for k in cast.keys],
        )  # fmt: skip
        charged = {id_ for (kind, id_) in sums if kind == "end_user"}
        cur.executemany(
            'INSERT INTO "LiteLLM_EndUserTable" (user_id, alias, spend, budget_id, blocked) VALUES (%s, %s, %s, %s, false)',
            [(e.user_id, e.alias, spent("end_user", e.user_id).recorded, e.budget.budget_id if e.budget else None)
             for e in cast.end_users if e.budget or e.user_id in charged],
        )  # fmt: skip
        cur.executemany(
            'INSERT INTO "LiteLLM_TagTable" (tag_name, description, models, spend, budget_id, created_at, created_by, '
            "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(t.name, t.description, [], spent("tag", t.name).recorded, t.budget.budget_id if t.budget else None,
              cast.start, ADMIN_USER, cast.start) for t in cast.tags],
        )  # fmt: skip
        cur.executemany(
            'INSERT INTO "LiteLLM_TeamMembership" (user_id, team_id, spend, total_spend, budget_id) '
            "VALUES (%s, %s, %s, %s, %s)",
            [(m.user_id, m.team_id, spent("team_member", f"{m.user_id}:{m.team_id}").recorded,
              spent("team_member", f"{m.user_id}:{m.team_id}").lifetime, m.budget.budget_id if m.budget else None)
             for m in cast.memberships],
        )  # fmt: skip
