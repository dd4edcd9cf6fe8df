"""Helpers shared by the tests: databases on the test server, and running `llmusage` as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from llmusage.pg.connect import with_database

ROOT = Path(__file__).resolve().parents[2]
TEST_HOME = ROOT / ".llmusage-test"
LLMUSAGE = [sys.executable, "-m", "llmusage"]


def create_database(server_url: str, template: str, label: str) -> str:
    name = f"llmusage_t_{re.sub(r'[^a-z0-9]+', '_', label.lower())[-30:]}_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    return with_database(server_url, name)


def cli_env_for(url: str, home: Path) -> dict[str, str]:
    """Environment for `run_cli` against the database `url`: this process's (PYTHONPATH included, so a
    worktree's code is what runs), without any other LLMUSAGE_ setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    return {**env, "LLMUSAGE_DATABASE_URL": url, "LLMUSAGE_HOME": str(home)}


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `llmusage ARGS` in a subprocess, as a user would."""
    return subprocess.run(
        [*LLMUSAGE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


_FINGERPRINT = {
    "relations": """
        SELECT c.relname, c.relkind, c.reloptions::text FROM pg_class c
        WHERE c.relnamespace = %(schema)s::regnamespace ORDER BY 1""",
    "columns": """
        SELECT table_name, ordinal_position, column_name, data_type, udt_name, is_nullable, column_default,
               character_maximum_length, numeric_precision, datetime_precision, is_identity
        FROM information_schema.columns WHERE table_schema = %(schema)s ORDER BY 1, 2""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(schema)s ORDER BY 1, 2",
    "constraints": """
        SELECT r.relname, k.conname, k.contype, pg_get_constraintdef(k.oid) FROM pg_constraint k
        JOIN pg_class r ON r.oid = k.conrelid WHERE r.relnamespace = %(schema)s::regnamespace ORDER BY 1, 2""",
    "triggers": """
        SELECT r.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid
        WHERE r.relnamespace = %(schema)s::regnamespace AND NOT t.tgisinternal ORDER BY 1, 2""",
    "types": """
        SELECT t.typname, t.typtype, e.enumsortorder, e.enumlabel FROM pg_type t
        LEFT JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE t.typnamespace = %(schema)s::regnamespace AND t.typtype IN ('e', 'd') ORDER BY 1, 3""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc) FROM pg_proc p
        WHERE p.pronamespace = %(schema)s::regnamespace ORDER BY 1, 2""",
}


def catalog_fingerprint(conn: psycopg.Connection, schema: str = "public") -> dict[str, list[tuple]]:
    """The DDL of every relation in a schema, from the catalog: relations, columns (types, nullability,
    defaults), indexes, constraints, triggers, enum types and functions; equal before and after means no
    DDL there changed."""
    return {part: conn.execute(query, {"schema": schema}).fetchall() for part, query in _FINGERPRINT.items()}
