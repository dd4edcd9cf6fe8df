"""The migration runner: applies `sql/migrations/NNNN_name.sql` in order, once each, recorded with a checksum.

Each migration runs in its own transaction together with its record, so a failing one leaves nothing of
itself behind. Before applying anything, every applied migration's checksum is compared with its file:
an edited migration stops the run (the fix is a new migration, never an edit). A session-level advisory
lock makes concurrent runs wait for each other instead of racing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from llmusage import sqlfiles
from llmusage.config import sql_dir
from llmusage.errors import LlmusageError

MIGRATIONS_TABLE = "llmusage_schema_migrations"
_LOCK_KEY = 0x6C6C6D75  # "llmu"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class Applied:
    version: int
    name: str
    checksum: str
    applied_at: datetime


def default_dir() -> Path:
    return sql_dir() / "migrations"


def discover(directory: Path | None = None) -> list[Migration]:
    """The migrations in a directory, ordered by version; a badly named or duplicate file is an error."""
    directory = directory or default_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise LlmusageError(f"migration file {path.name} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise LlmusageError(
                f"two migrations share version {version:04d}: {found[version].path.name}, {path.name}"
            )
        found[version] = Migration(version, match.group(2), path, path.read_text())
    return [found[v] for v in sorted(found)]


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )"""
    )


def applied(conn: psycopg.Connection) -> list[Applied]:
    """The migrations recorded in the database (empty when the table does not exist yet)."""
    exists = conn.execute("SELECT to_regclass(%s)", (MIGRATIONS_TABLE,)).fetchone()
    if not exists or exists[0] is None:
        return []
    rows = conn.execute(
        f"SELECT version, name, checksum, applied_at FROM {MIGRATIONS_TABLE} ORDER BY version"
    ).fetchall()
    return [Applied(*row) for row in rows]


def pending(conn: psycopg.Connection, migrations: list[Migration]) -> list[Migration]:
    """The migrations still to apply, after checking that none of the applied ones was edited."""
    done = {a.version: a for a in applied(conn)}
    files = {m.version: m for m in migrations}
    for version, record in done.items():
        migration = files.get(version)
        if migration is None:
            raise LlmusageError(
                f"migration {version:04d}_{record.name} is applied in the database but its file is missing"
            )
        if migration.checksum != record.checksum:
            raise LlmusageError(
                f"migration {migration.path.name} was edited after it was applied "
                f"(checksum {record.checksum[:12]} recorded, {migration.checksum[:12]} on disk); "
                "add a new migration instead"
            )
    return [m for m in migrations if m.version not in done]


def migrate(conn: psycopg.Connection, directory: Path | None = None) -> list[Migration]:
    """Apply pending migrations in order, each in its own transaction; return those applied.

    `conn` must be in autocommit mode (the runner opens one transaction per migration).
    """
    if not conn.autocommit:
        raise ValueError("migrate() needs an autocommit connection")
    migrations = discover(directory)
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        _ensure_table(conn)
        todo = pending(conn, migrations)
        for migration in todo:
            try:
                with conn.transaction():
                    conn.execute(sqlfiles.trusted(migration.sql))
                    conn.execute(
                        f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            except psycopg.Error as exc:
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise LlmusageError(
                    f"migration {migration.path.name} failed and was rolled back: {detail}"
                ) from exc
        return todo
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def check_current(conn: psycopg.Connection, directory: Path | None = None) -> None:
    """Raise a clear error unless every migration is applied (for commands that need the schema)."""
    todo = pending(conn, discover(directory))
    if todo:
        names = ", ".join(m.path.name for m in todo)
        raise LlmusageError(
            f"the database schema is not current (pending: {names}); run `llmusage db migrate`"
        )
