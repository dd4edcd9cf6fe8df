"""What reconciliation reads from PostgreSQL, in one REPEATABLE READ snapshot: the four entity tables and
the tail of spend logs (the days the lake may not hold in full), so recorded and ledger spend agree in time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
import pyarrow as pa
from psycopg.rows import dict_row

from llmusage.db import connect
from llmusage.sqlfiles import load

ENTITY_TYPES = ("key", "user", "team", "organization")
_QUERIES = {
    "key": "queries/reconcile_keys.sql",
    "user": "queries/reconcile_users.sql",
    "team": "queries/reconcile_teams.sql",
    "organization": "queries/reconcile_organizations.sql",
}
TAIL_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("api_key", pa.string()),
        ("user", pa.string()),
        ("team_id", pa.string()),
        ("model", pa.string()),
        ("spend", pa.float64()),
        ("created_at", pa.timestamp("us")),
    ]
)


@dataclass
class Snapshot:
    entities: dict[str, list[dict]]  # entity type -> rows of the reconcile_<type>.sql query
    tail: pa.Table
    taken_at: datetime  # the database's clock at the snapshot, naive UTC


def take(url: str, cutoff: datetime | None) -> Snapshot:
    """Read entities and the logs from `cutoff` on (all logs when None) in one consistent snapshot."""
    with connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            now = conn.execute("SELECT (now() AT TIME ZONE 'UTC')").fetchone()
            entities: dict[str, list[dict]] = {}
            with conn.cursor(row_factory=dict_row) as cur:
                for kind, query in _QUERIES.items():
                    entities[kind] = cur.execute(load(query)).fetchall()  # type: ignore[arg-type]
            tail = _tail(conn, cutoff or datetime(1, 1, 1))
    return Snapshot(entities=entities, tail=tail, taken_at=now[0] if now else datetime.utcnow())


def _tail(conn: psycopg.Connection, cutoff: datetime) -> pa.Table:
    batches: list[pa.RecordBatch] = []
    with conn.cursor(name="reconcile_tail") as cur:
        cur.itersize = 50_000
        cur.execute(load("queries/reconcile_tail.sql"), {"cutoff": cutoff})  # type: ignore[arg-type]
        while rows := cur.fetchmany(50_000):
            columns = list(zip(*rows, strict=True))
            batches.append(pa.RecordBatch.from_arrays(
                [pa.array(col, type=field.type) for col, field in zip(columns, TAIL_SCHEMA, strict=True)],
                schema=TAIL_SCHEMA,
            ))  # fmt: skip
    return pa.Table.from_batches(batches, schema=TAIL_SCHEMA)
