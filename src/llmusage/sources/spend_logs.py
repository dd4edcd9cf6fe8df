"""Spend logs in the normalized shape, read from either flavour: the queries extract and freshness use.

The normalized spend log (DESIGN.md, "The normalized model") is what the lake stores and every consumer
reads, whatever the database:

| column | llmusage flavour | LiteLLM flavour |
| --- | --- | --- |
| `event_time` | `created_at` | `"startTime"` |
| `user_id`, `team_id`, `api_key`, `end_user` | `"user"`, `team_id`, `api_key`, `metadata.end_user` | same names, `''` made NULL |
| `organization_id` | the team's, else the user's | its column (`''` made NULL) |
| `model_group`, `provider` | `model`, `api_provider` | `model_group`, `custom_llm_provider` |
| `status`, `call_type`, `cache_hit` | from `metadata` (never a cache hit) | its columns |
| `tags` | `metadata.tags` | `request_tags` |

Bodies never enter the lake unless asked for (`with_payload`): the llmusage flavour's `payload`, LiteLLM's
`messages`, `response` and `proxy_server_request`. Each flavour's SQL lives in `sql/sources/<flavour>/`;
the range query filters on the raw event time column, so it is index-backed on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import LiteralString

import psycopg
from psycopg import sql

from llmusage.errors import LlmusageError
from llmusage.sources.detect import Flavour, detect
from llmusage.sqlfiles import load

NORMALIZED_COLUMNS = (
    "request_id",
    "event_time",
    "end_time",
    "created_at",
    "api_key",
    "user_id",
    "team_id",
    "organization_id",
    "end_user",
    "model",
    "model_group",
    "provider",
    "call_type",
    "status",
    "cache_hit",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "spend",
    "latency_ms",
    "metadata",
    "tags",
)
"""The lake's spend log columns, in order (payload columns follow when asked for)."""


@dataclass(frozen=True)
class SpendLogSource:
    """One flavour's spend log queries."""

    flavour: Flavour
    payload_columns: tuple[str, ...]
    tags_from: str  # "metadata": a `tags` key inside it; "request_tags": a JSON list column

    def query(self, name: str) -> LiteralString:
        return load(f"sources/{self.flavour.value}/{name}.sql")

    def range_sql(self, since: datetime, until: datetime, with_payload: bool = False) -> sql.Composed:
        """The normalized logs with event time in [since, until) (bounds as literals, see the SQL file)."""
        payload = sql.SQL("")
        if with_payload:
            payload = sql.SQL("").join(
                sql.SQL(", CAST(l.{c} AS text) AS {c}").format(c=sql.Identifier(c))
                for c in self.payload_columns
            )
        return sql.SQL(self.query("spend_logs_range")).format(
            payload=payload, since=sql.Literal(since), until=sql.Literal(until)
        )

    def range_query(
        self, conn: psycopg.Connection, since: datetime, until: datetime, with_payload: bool
    ) -> str:
        """`range_sql` as text, for ADBC (which streams COPY only for a query without bind parameters)."""
        return self.range_sql(since, until, with_payload).as_string(conn)

    def fingerprints(
        self, conn: psycopg.Connection, since: datetime, until: datetime
    ) -> dict[date, tuple[int, datetime]]:
        """Per UTC day of event time in [since, until): rows and the newest event time."""
        rows = conn.execute(self.query("spend_logs_day_fingerprints"), {"since": since, "until": until})
        return {day: (n, newest) for day, n, newest in rows}

    def span(self, conn: psycopg.Connection) -> tuple[datetime | None, datetime | None]:
        row = conn.execute(self.query("spend_logs_span")).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def newest(self, conn: psycopg.Connection) -> datetime | None:
        """The newest log's event time (None without logs)."""
        row = conn.execute(self.query("newest_spend_log")).fetchone()
        return row[0] if row else None


SOURCES = {
    Flavour.LLMUSAGE: SpendLogSource(Flavour.LLMUSAGE, ("payload",), "metadata"),
    Flavour.LITELLM: SpendLogSource(
        Flavour.LITELLM, ("messages", "response", "proxy_server_request"), "request_tags"
    ),
}


def spend_log_source(conn: psycopg.Connection) -> SpendLogSource:
    """The spend log queries for the database behind `conn`; a database without spend logs is an error."""
    found = detect(conn)
    if found.flavour is Flavour.EMPTY:
        raise LlmusageError('the database has no "LiteLLM_SpendLogs" table; run `llmusage db migrate`')
    return SOURCES[found.flavour]
