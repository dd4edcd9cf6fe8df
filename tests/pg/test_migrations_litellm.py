"""`db migrate` on a production LiteLLM database: only llmusage's own schema is created, the migrations that
would touch LiteLLM's tables are recorded as skipped, no DDL in LiteLLM's schema changes, a second run applies
nothing, and a failure leaves the database as it was (no schema, no ledger)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from llmusage.devtools.scratch_db import drop_scratch_database
from llmusage.pg import ledger, migrations
from support.db import catalog_fingerprint, cli_env_for, create_database, run_cli


@pytest.fixture
def litellm_url(request: pytest.FixtureRequest, server_url: str, litellm_template_name: str) -> Iterator[str]:
    """A fresh LiteLLM database (its own Prisma migrations, no rows) for one test."""
    url = create_database(server_url, litellm_template_name, "mig_" + request.node.name)
    yield url
    drop_scratch_database(server_url, url)


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return cli_env_for(url, tmp_path / "home")


def _latest(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT max(migration_name) FROM _prisma_migrations").fetchone()
    assert row and row[0]
    return str(row[0])


def _own_schema(conn: psycopg.Connection) -> tuple[bool, bool, bool]:
    where = ledger.locate(conn)
    return where.schema, where.ledger, where.old_ledger


def test_migrate_leaves_litellm_ddl_alone(litellm_url: str, tmp_path: Path) -> None:
    with psycopg.connect(litellm_url) as conn:
        before = catalog_fingerprint(conn, "public")
        latest = _latest(conn)
    assert sum(r[0].startswith("LiteLLM_") for r in before["relations"] if r[1] == "r") > 30

    result = run_cli("db", "migrate", env=_env(litellm_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"LiteLLM database (latest migration {latest}): created schema llmusage; "
        "applied 0004_budget_status.sql, 0005_llmusage_schema.sql, 0006_budget_only_kinds.sql, 0007_alerts.sql, "
        "0008_spend_log_prunes.sql; "
        "skipped 0001_litellm_schema.sql, 0002_key_blocked.sql (llmusage flavour only: LiteLLM owns its tables)"
    )
    with psycopg.connect(litellm_url) as conn:
        # Not one column, type, default, index, constraint, trigger or type of LiteLLM's schema changed, and
        # nothing of llmusage's was left in it: 0004's tables moved into `llmusage` with 0005.
        assert catalog_fingerprint(conn, "public") == before
        assert {r[0] for r in catalog_fingerprint(conn, "llmusage")["relations"] if r[1] == "r"} == {
            "schema_migrations", "budget_status", "budget_events", "alerts", "spend_log_prunes",
        }  # fmt: skip
        recorded = [(a.version, a.outcome) for a in migrations.applied(conn)]
        assert recorded == [(1, "skipped"), (2, "skipped"), (4, "applied"), (5, "applied"), (6, "applied"),
                            (7, "applied"), (8, "applied")]  # fmt: skip
        migrations.check_current(conn)  # skipped is not pending

    again = run_cli("db", "migrate", env=_env(litellm_url, tmp_path))
    assert again.returncode == 0, again.stderr
    assert (
        again.stdout.strip()
        == f"LiteLLM database (latest migration {latest}): schema is current; nothing to apply"
    )
    with psycopg.connect(litellm_url) as conn:
        assert catalog_fingerprint(conn, "public") == before
        assert [(a.version, a.outcome) for a in migrations.applied(conn)] == recorded


def test_failure_on_litellm_leaves_nothing_behind(litellm_url: str, tmp_path: Path) -> None:
    # The report: migrate failed on "LiteLLM_OrganizationTable already exists" and left an empty
    # ledger. Here the llmusage-only migration would fail the same way but is skipped; the both-flavour one
    # fails; neither the schema `llmusage` nor a ledger (nor the skips' records) may remain.
    (tmp_path / "0001_orgs.sql").write_text(
        '-- flavour: llmusage\nCREATE TABLE "LiteLLM_OrganizationTable" (a INT);'
    )
    (tmp_path / "0002_broken.sql").write_text(
        "-- flavour: both\nCREATE TABLE llmusage.half (a INT);\n"
        "ALTER TABLE llmusage.missing ADD COLUMN x INT;"
    )
    with psycopg.connect(litellm_url) as conn:
        before = catalog_fingerprint(conn, "public")
    result = run_cli("db", "migrate", "--dir", str(tmp_path), env=_env(litellm_url, tmp_path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "0002_broken.sql failed and was rolled back" in result.stderr
    with psycopg.connect(litellm_url) as conn:
        assert _own_schema(conn) == (False, False, False)
        assert migrations.applied(conn) == []
        assert catalog_fingerprint(conn, "public") == before


def test_litellm_only_migration_added_later_is_recorded_as_skipped(litellm_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_own.sql").write_text(
        "-- flavour: both\nCREATE TABLE llmusage.t (a INT);  -- the runner has created the schema"
    )
    with psycopg.connect(litellm_url, autocommit=True) as conn:
        first = migrations.run(conn, tmp_path)
        assert [m.version for m in first.applied] == [1] and first.skipped == []
        (tmp_path / "0002_litellm_column.sql").write_text(
            '-- flavour: llmusage\nALTER TABLE "LiteLLM_TeamTable" ADD COLUMN note TEXT;'
        )
        before = catalog_fingerprint(conn, "public")
        second = migrations.run(conn, tmp_path)
        assert second.applied == [] and [m.version for m in second.skipped] == [2]
        assert "skipped 0002_litellm_column.sql (llmusage flavour only" in second.describe()
        assert catalog_fingerprint(conn, "public") == before
        assert [(a.version, a.outcome) for a in migrations.applied(conn)] == [(1, "applied"), (2, "skipped")]
        assert migrations.run(conn, tmp_path).skipped == []  # recorded: never pending again


def test_leftover_empty_ledger_of_the_old_failure_is_taken_over(litellm_url: str, tmp_path: Path) -> None:
    # What the old `db migrate` left on a LiteLLM database: an empty llmusage_schema_migrations in public.
    with psycopg.connect(litellm_url, autocommit=True) as conn:
        clean = catalog_fingerprint(conn, "public")
        conn.execute(
            "CREATE TABLE llmusage_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        run = migrations.run(conn)
        assert [m.version for m in run.applied] == [4, 5, 6, 7, 8] and [m.version for m in run.skipped] == [
            1,
            2,
        ]
        assert run.notes == [f"moved the migration ledger {ledger.OLD_LEDGER} to {ledger.LEDGER}"]
        assert catalog_fingerprint(conn, "public") == clean
        assert _own_schema(conn) == (True, True, False)


def test_least_privilege_role_with_a_schema_made_by_the_dba(litellm_url: str) -> None:
    # Production setup: the DBA creates the schema `llmusage` for llmusage's role, which may read LiteLLM's
    # tables and create in public (0004's tables, moved by 0005) but has no CREATE on the database.
    role = f"llmusage_migrator_{os.getpid()}"
    with psycopg.connect(litellm_url, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")  # type: ignore[arg-type]
        admin.execute(f"CREATE ROLE {role} LOGIN")  # type: ignore[arg-type]
        try:
            admin.execute(f"CREATE SCHEMA llmusage AUTHORIZATION {role}")  # type: ignore[arg-type]
            admin.execute(f"GRANT CREATE ON SCHEMA public TO {role}")  # type: ignore[arg-type]
            admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")  # type: ignore[arg-type]
            with psycopg.connect(litellm_url, user=role, autocommit=True) as conn:
                assert conn.execute(
                    "SELECT has_database_privilege(current_database(), 'CREATE')"
                ).fetchone() == (False,)
                run = migrations.run(conn)
                assert [m.version for m in run.applied] == [4, 5, 6, 7, 8] and not run.created_schema
                assert [(a.version, a.outcome) for a in migrations.applied(conn)][-1] == (8, "applied")
        finally:
            admin.execute("DROP SCHEMA IF EXISTS llmusage CASCADE")
            admin.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")  # type: ignore[arg-type]
            admin.execute(f"REVOKE ALL ON SCHEMA public FROM {role}")  # type: ignore[arg-type]
            admin.execute(f"DROP ROLE {role}")  # type: ignore[arg-type]
