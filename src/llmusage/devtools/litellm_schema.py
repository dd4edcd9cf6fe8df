"""A LiteLLM database's schema built the way LiteLLM builds it: its own Prisma migrations, applied in order.

The migrations are the SQL files LiteLLM ships in the PyPI package `litellm-proxy-extras` (one folder per
migration, `<timestamp>_<name>/migration.sql`, applied in folder-name order as `prisma migrate deploy`
does), each recorded in `_prisma_migrations` as Prisma records it, so the result is what a production
LiteLLM proxy of that version runs on. Used by tests, `llmusage seed --flavour litellm` and benchmarks.
"""

from __future__ import annotations

import hashlib
import uuid
from importlib import resources
from pathlib import Path

import psycopg

PRISMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)
"""


def migrations_dir() -> Path:
    """The folder of LiteLLM's Prisma migrations inside the installed `litellm-proxy-extras`."""
    return Path(str(resources.files("litellm_proxy_extras") / "migrations"))


def litellm_migrations() -> list[Path]:
    """Every LiteLLM migration file, in the order Prisma applies them."""
    return sorted(p / "migration.sql" for p in migrations_dir().iterdir() if (p / "migration.sql").is_file())


def litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm-proxy-extras")


def create_litellm_schema(conn: psycopg.Connection) -> int:
    """Apply LiteLLM's migrations to the (empty) database behind `conn`; returns how many were applied."""
    conn.execute(PRISMA_MIGRATIONS_DDL)
    files = litellm_migrations()
    for path in files:
        text = path.read_text()
        record = (str(uuid.uuid4()), hashlib.sha256(text.encode()).hexdigest(), path.parent.name)
        if "CONCURRENTLY" in text:  # cannot run in a transaction: one statement at a time, as Prisma does
            for statement in _statements(text):
                conn.execute(statement.encode())
            conn.execute(_RECORD, record)
            continue
        with conn.transaction():
            conn.execute(text.encode())  # several statements: the simple query protocol
            conn.execute(_RECORD, record)
    return len(files)


_RECORD = (
    'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)'
    " VALUES (%s, %s, now(), %s, 1)"
)


def _statements(text: str) -> list[str]:
    """The statements of a migration without `$$` bodies (the only kind that uses CONCURRENTLY)."""
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in code.split(";") if s.strip()]
