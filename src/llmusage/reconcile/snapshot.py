"""What reconciliation reads from PostgreSQL, in one REPEATABLE READ snapshot held open while it computes:
the flavour (`llmusage.sources`), the four entity tables with their budgets (each flavour's SQL in
`sql/sources/<flavour>/`) and, on a LiteLLM database, the end users, tags and team memberships that have a
budget (`llmusage.entities.LITELLM_BUDGET_ONLY`), the logs from the cutoff on summed at the ledger's grain (PostgreSQL aggregates
them: a day of logs is hundreds of thousands of rows, its grain a few thousand), and, on request, the
few logs of given days and entities that are needed one by one. Recorded and ledger spend agree in time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.rows import dict_row

from llmusage.entities import KINDS, LITELLM_BUDGET_ONLY, EntityKind, Kind, compose
from llmusage.pg.connect import connect
from llmusage.sources.detect import Flavour
from llmusage.sources.spend_logs import SpendLogSource, spend_log_source
from llmusage.sqlfiles import load

GRAIN_SCHEMA = pa.schema(
    [
        ("api_key", pa.string()),
        ("user_id", pa.string()),
        ("team_id", pa.string()),
        ("organization_id", pa.string()),
        ("model", pa.string()),
        ("day", pa.date32()),
        ("spend", pa.float64()),
        ("requests", pa.int64()),
    ]
)
LOG_SCHEMA = pa.schema(
    [
        ("api_key", pa.string()),
        ("user_id", pa.string()),
        ("team_id", pa.string()),
        ("organization_id", pa.string()),
        ("model", pa.string()),
        ("spend", pa.float64()),
        ("event_time", pa.timestamp("us")),
    ]
)
BUDGET_ONLY_LOG_SCHEMA = pa.schema(
    [
        ("event_time", pa.timestamp("us")),
        ("model", pa.string()),
        ("spend", pa.float64()),
        ("end_user", pa.string()),
        ("user_id", pa.string()),
        ("team_id", pa.string()),
        ("tags", pa.list_(pa.string())),
    ]
)
_BEGINNING = datetime(1, 1, 1)


def _table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns: list[tuple] = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


@dataclass
class Snapshot:
    source: SpendLogSource  # the flavour's spend log queries
    entities: dict[Kind, list[dict]]  # kind -> rows of sources/<flavour>/entities*.sql for it
    tail_grain: pa.Table  # GRAIN_SCHEMA: the logs from the cutoff on, summed
    taken_at: datetime  # the database's clock at the snapshot, naive UTC
    cutoff: datetime
    _conn: psycopg.Connection
    budget_only: dict[str, list[dict]] = field(default_factory=dict)
    """LITELLM_BUDGET_ONLY kind -> rows of sources/litellm/entities_<kind>.sql (empty on the llmusage flavour)."""

    def oldest_log(self) -> datetime | None:
        """The oldest log's event time in the database (one index probe), in the snapshot."""
        return self.source.span(self._conn)[0]

    def tail_logs(self, days: set[date], entities: dict[str, set[str]]) -> pa.Table:
        """LOG_SCHEMA rows from the cutoff on, on `days`, that count for any of `entities` (kind -> ids)."""
        if not days or not any(entities.values()):
            return _table([], LOG_SCHEMA)
        params = {
            "days": sorted(days),
            **{f"{kind.label}s": sorted(entities.get(kind.label, ())) for kind in KINDS},
        }
        query = sql.SQL(load("reconcile/postgres/tail_logs.sql")).format(
            logs=_logs_since(self.source, self.cutoff)
        )
        rows = self._conn.execute(query, params).fetchall()
        return _table(rows, LOG_SCHEMA)

    def budget_only_tail(self, entities: dict[str, set[str]]) -> pa.Table:
        """BUDGET_ONLY_LOG_SCHEMA rows from the cutoff on that count for any of `entities` (a
        LITELLM_BUDGET_ONLY kind -> ids; a team membership's id is `<user_id>:<team_id>`)."""
        if not any(entities.values()):
            return _table([], BUDGET_ONLY_LOG_SCHEMA)
        params = {
            "end_users": sorted(entities.get("end_user", ())),
            "tags": sorted(entities.get("tag", ())),
            "members": sorted(entities.get("team_member", ())),
        }
        query = sql.SQL(load("reconcile/postgres/tail_budget_only_logs.sql")).format(
            logs=_logs_since(self.source, self.cutoff)
        )
        return _table(self._conn.execute(query, params).fetchall(), BUDGET_ONLY_LOG_SCHEMA)


@contextmanager
def open_snapshot(url: str, cutoff: datetime | None) -> Iterator[Snapshot]:
    """Entities and the tail from `cutoff` on (all logs when None), in a snapshot kept open for the block."""
    since = cutoff or _BEGINNING
    with connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            now = conn.execute("SELECT (now() AT TIME ZONE 'UTC')").fetchone()
            source = spend_log_source(conn)
            entities: dict[Kind, list[dict]] = {}
            with conn.cursor(row_factory=dict_row) as cur:
                for kind in KINDS:
                    entities[kind.kind] = cur.execute(_entities_query(source.flavour, kind)).fetchall()
                budget_only = {
                    label: cur.execute(load(f"sources/litellm/entities_{label}.sql")).fetchall()
                    for label in (LITELLM_BUDGET_ONLY if source.flavour is Flavour.LITELLM else ())
                }
            tail = sql.SQL(load("reconcile/postgres/tail_grain.sql")).format(logs=_logs_since(source, since))
            grain = conn.execute(tail).fetchall()
            yield Snapshot(
                source=source,
                entities=entities,
                tail_grain=_table(grain, GRAIN_SCHEMA),
                taken_at=now[0] if now else datetime.utcnow(),
                cutoff=since,
                _conn=conn,
                budget_only=budget_only,
            )


_END_OF_TIME = datetime(9999, 12, 31)


def _logs_since(source: SpendLogSource, cutoff: datetime) -> sql.Composed:
    """The flavour's normalized logs from `cutoff` on (as the extract reads them)."""
    return source.range_sql(cutoff, _END_OF_TIME)


def _entities_query(flavour: Flavour, kind: EntityKind) -> sql.Composable:
    """One kind's entities as reconciliation reads them: a template composed per kind on the llmusage
    flavour, a file per kind on LiteLLM's (whose tables differ: budget rows, no `user_metadata`)."""
    if flavour is Flavour.LITELLM:
        return sql.SQL(load(f"sources/litellm/entities_{kind.label}.sql"))
    return compose(load("sources/llmusage/entities.sql"), kind)
