"""The migration ledger: where it lives, reading it, moving an old one, and recording in it.

The ledger is `llmusage.schema_migrations`, in the PostgreSQL schema `llmusage` that holds llmusage's own
objects in both flavours. Databases migrated before `0005` keep it as `llmusage_schema_migrations` in the
search path's schema (public): `applied` reads it there until the runner moves it (`move_old`, one
transaction, rows kept). Each record says whether its migration was applied or skipped (a migration of the
llmusage flavour only, on a LiteLLM database). The statements are `sql/ledger/*.sql`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from llmusage.errors import LlmusageError
from llmusage.sqlfiles import load

SCHEMA = "llmusage"
LEDGER = "llmusage.schema_migrations"
OLD_LEDGER = "llmusage_schema_migrations"
"""The ledger's name before 0005, in the search path's first schema."""

APPLIED = "applied"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Applied:
    """One record of the ledger: a migration applied, or skipped as not applicable to the flavour."""

    version: int
    name: str
    checksum: str
    applied_at: datetime
    outcome: str = APPLIED

    @property
    def skipped(self) -> bool:
        return self.outcome == SKIPPED


@dataclass(frozen=True)
class Location:
    ledger: bool
    """`llmusage.schema_migrations` exists."""
    old_ledger: bool
    """`llmusage_schema_migrations` exists in the search path (a database migrated before 0005)."""
    schema: bool
    """The schema `llmusage` exists."""


def locate(conn: psycopg.Connection) -> Location:
    row = conn.execute(load("ledger/locate.sql")).fetchone()
    return Location(*row) if row else Location(False, False, False)


def applied(conn: psycopg.Connection) -> list[Applied]:
    """Every record of the ledger, wherever it is (empty when there is none yet)."""
    where = locate(conn)
    if where.ledger:
        rows = conn.execute(load("ledger/read.sql")).fetchall()
    elif where.old_ledger:
        rows = conn.execute(load("ledger/read_old.sql")).fetchall()
    else:
        return []
    return [Applied(*row) for row in rows]


def move_old(conn: psycopg.Connection) -> str | None:
    """Bring an old database's ledger into the schema `llmusage`, in one transaction; say what was done.

    Only one ledger can be the truth: an empty old-name table beside the new ledger (left by an older
    llmusage that failed on its first migration) is dropped; one with records is a conflict to resolve
    by hand. `conn` must be in autocommit mode.
    """
    where = locate(conn)
    if not where.old_ledger:
        return None
    try:
        with conn.transaction():
            if not where.ledger:
                if not where.schema:
                    conn.execute(load("ledger/create_schema.sql"))
                conn.execute(load("ledger/move.sql"))
                return f"moved the migration ledger {OLD_LEDGER} to {LEDGER}"
            row = conn.execute(load("ledger/count_old.sql")).fetchone()
            records = int(row[0]) if row else 0
            if records:
                raise LlmusageError(
                    f"two migration ledgers: {LEDGER} and {OLD_LEDGER} ({records} records); "
                    f"compare them and drop {OLD_LEDGER}"
                )
            conn.execute(load("ledger/drop_old.sql"))
            return f"dropped an empty {OLD_LEDGER} left by an older llmusage"
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LlmusageError(
            f"moving the migration ledger into {SCHEMA} failed and was rolled back: {detail}"
        ) from exc


def ensure(conn: psycopg.Connection) -> None:
    """Create the schema `llmusage` and the ledger where missing (an existing schema is used as it is).

    Called inside the transaction of a migration, before its SQL (which may then rely on the schema), so
    a migration that fails leaves no schema and no ledger behind.
    """
    where = locate(conn)
    if not where.schema:
        conn.execute(load("ledger/create_schema.sql"))
    if not where.ledger:
        conn.execute(load("ledger/create.sql"))


def record(conn: psycopg.Connection, version: int, name: str, checksum: str, outcome: str) -> None:
    """Record a migration, in the transaction that applied it (or decided to skip it), after `ensure`."""
    conn.execute(load("ledger/record.sql"), (version, name, checksum, outcome))
