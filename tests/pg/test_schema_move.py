"""The schema `llmusage`: an old database (ledger and budget tables in public, at 0004) is moved by 0005 with
every row kept, and ends like a fresh one; the ledger is found in either place and moved first."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from llmusage.errors import LlmusageError
from llmusage.pg import ledger, migrations
from support.db import catalog_fingerprint

OLD_LEDGER_DDL = """CREATE TABLE llmusage_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""  # as the runner created it before 0005


def _migrate_the_old_way(conn: psycopg.Connection, up_to: int) -> None:
    """What the runner did before 0005: the ledger in public, migrations recorded with their checksums."""
    conn.execute(OLD_LEDGER_DDL)
    for m in migrations.discover():
        if m.version <= up_to:
            with conn.transaction():
                conn.execute(m.sql.encode())
                conn.execute(
                    "INSERT INTO llmusage_schema_migrations (version, name, checksum, applied_at) "
                    "VALUES (%s, %s, %s, now() - interval '30 days')",
                    (m.version, m.name, m.checksum),
                )


def _rows(conn: psycopg.Connection, table: str, order: str) -> list[tuple]:
    return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()  # type: ignore[arg-type]


def test_old_database_at_0004_moves_with_every_row(empty_database_url: str, database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        _migrate_the_old_way(conn, up_to=4)
        conn.execute(
            "INSERT INTO llmusage_budget_status (entity_type, entity_id, name, status, ledger_spend, max_budget, "
            "flagged) VALUES ('team', 't-1', 'search', 'exceeded', 120.5, 100, true), "
            "('key', 'k-1', 'prod', 'warning', 85, 100, false)"
        )
        conn.execute(
            "INSERT INTO llmusage_budget_events (entity_type, entity_id, action, old_status, new_status, detail) "
            "VALUES ('team', 't-1', 'status_changed', 'ok', 'exceeded', '{}'), "
            "('team', 't-1', 'flagged', NULL, NULL, '{\"by\": \"llmusage\"}'), "
            "('key', 'k-1', 'status_changed', 'ok', 'warning', '{}')"
        )
        status = _rows(conn, "llmusage_budget_status", "entity_type, entity_id")
        events = _rows(conn, "llmusage_budget_events", "event_id")
        old_ledger = _rows(conn, "llmusage_schema_migrations", "version")
        assert [r[0] for r in old_ledger] == [1, 2, 4]

        # Before the move, the runner reads the old ledger: only 0005 is pending.
        assert [m.version for m in migrations.pending(conn, migrations.discover())] == [5, 6, 7, 8]
        run = migrations.run(conn)
        assert [m.version for m in run.applied] == [5, 6, 7, 8] and run.skipped == []
        assert run.notes == [f"moved the migration ledger {ledger.OLD_LEDGER} to {ledger.LEDGER}"]
        assert run.created_schema
        assert run.describe().startswith(
            "llmusage database: created schema llmusage; moved the migration ledger"
        )

        # Nothing left in public, every row in the schema llmusage, the ledger's history kept.
        for name in ("llmusage_schema_migrations", "llmusage_budget_status", "llmusage_budget_events"):
            assert conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)
        assert _rows(conn, "llmusage.budget_status", "entity_type, entity_id") == status
        assert _rows(conn, "llmusage.budget_events", "event_id") == events
        moved = _rows(conn, "llmusage.schema_migrations", "version")
        assert [r[:4] for r in moved[:3]] == old_ledger and [r[4] for r in moved] == ["applied"] * 7
        # The events' sequence moved with its table and carries on.
        new_id = conn.execute(
            "INSERT INTO llmusage.budget_events (entity_type, entity_id, action) "
            "VALUES ('key', 'k-1', 'unflagged') RETURNING event_id"
        ).fetchone()
        assert new_id == (4,)
        assert migrations.migrate(conn) == []
        migrations.check_current(conn)
        moved_schema = catalog_fingerprint(conn, "llmusage")
        moved_public = catalog_fingerprint(conn, "public")

    # A fresh database (the test template, built by `migrate`) ends in the same state.
    with psycopg.connect(database_url) as fresh:
        assert catalog_fingerprint(fresh, "llmusage") == moved_schema
        assert catalog_fingerprint(fresh, "public") == moved_public
        assert [(a.version, a.outcome) for a in migrations.applied(fresh)] == [
            (1, "applied"), (2, "applied"), (4, "applied"), (5, "applied"), (6, "applied"), (7, "applied"),
            (8, "applied"),
        ]  # fmt: skip
    assert {"budget_status", "budget_events", "schema_migrations"} <= {
        r[0] for r in moved_schema["relations"]
    }
    assert "idx_budget_events_entity" in {r[1] for r in moved_schema["indexes"]}


def test_move_of_the_ledger_is_atomic(empty_database_url: str) -> None:
    # A database where the schema `llmusage` exists already, holding a table by the ledger's new name that is
    # not the ledger: the move must fail whole and leave the old ledger where and as it was.
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        _migrate_the_old_way(conn, up_to=2)
        conn.execute("CREATE SCHEMA llmusage")
        conn.execute("CREATE TABLE llmusage.llmusage_schema_migrations (x INT)")
        before = _rows(conn, "llmusage_schema_migrations", "version")
        with pytest.raises(
            LlmusageError, match="moving the migration ledger into llmusage failed and was rolled back"
        ):
            migrations.migrate(conn)
        assert _rows(conn, "llmusage_schema_migrations", "version") == before
        assert conn.execute("SELECT to_regclass('llmusage.schema_migrations')").fetchone() == (None,)


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(f"-- flavour: both\n{text}")


def test_an_empty_old_ledger_beside_the_new_one_is_dropped(empty_database_url: str, tmp_path: Path) -> None:
    # An older llmusage run against a new database creates an empty ledger in public, then fails.
    _write(tmp_path, "0001_create.sql", "CREATE TABLE t (a INT);")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        migrations.migrate(conn, tmp_path)
        conn.execute(OLD_LEDGER_DDL)
        _write(tmp_path, "0002_more.sql", "CREATE TABLE u (a INT);")
        run = migrations.run(conn, tmp_path)
        assert run.notes == [f"dropped an empty {ledger.OLD_LEDGER} left by an older llmusage"]
        assert [m.version for m in run.applied] == [2]
        assert conn.execute("SELECT to_regclass('llmusage_schema_migrations')").fetchone() == (None,)
        # One with records is a conflict a person resolves.
        conn.execute(OLD_LEDGER_DDL)
        conn.execute("INSERT INTO llmusage_schema_migrations (version, name, checksum) VALUES (1, 'x', 'y')")
        with pytest.raises(LlmusageError, match="two migration ledgers"):
            migrations.migrate(conn, tmp_path)
