"""The migration runner and the schema it creates: order, idempotence, edits refused, failures rolled back."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from llmusage.errors import LlmusageError
from llmusage.pg import migrations
from support.db import cli_env_for, run_cli

# Column names and types of the LiteLLM seed schema (shared/seed/schema.md), which must be kept.
SEED_COLUMNS = {
    "LiteLLM_VerificationToken": {
        "token": "text", "key_name": "text", "key_alias": "text", "user_id": "text", "team_id": "text",
        "permissions": "jsonb", "spend": "double precision", "max_budget": "double precision", "models": "ARRAY",
        "metadata": "jsonb", "created_at": "timestamp without time zone", "expires": "timestamp without time zone",
    },
    "LiteLLM_UserTable": {
        "user_id": "text", "user_email": "text", "user_role": "text", "teams": "ARRAY", "organization_id": "text",
        "max_budget": "double precision", "spend": "double precision", "user_metadata": "jsonb",
        "created_at": "timestamp without time zone", "updated_at": "timestamp without time zone",
    },
    "LiteLLM_TeamTable": {
        "team_id": "text", "team_alias": "text", "organization_id": "text", "admins": "ARRAY", "members": "ARRAY",
        "max_budget": "double precision", "spend": "double precision", "models": "ARRAY", "blocked": "boolean",
        "metadata": "jsonb", "created_at": "timestamp without time zone", "updated_at": "timestamp without time zone",
    },
    "LiteLLM_SpendLogs": {
        "request_id": "text", "api_key": "text", "model": "text", "api_provider": "text", "total_tokens": "integer",
        "prompt_tokens": "integer", "completion_tokens": "integer", "spend": "double precision", "user": "text",
        "team_id": "text", "metadata": "jsonb", "payload": "jsonb", "created_at": "timestamp without time zone",
    },
    "LiteLLM_ProxyModelTable": {
        "model_id": "text", "model_name": "text", "litellm_params": "jsonb", "model_info": "jsonb",
        "created_at": "timestamp without time zone", "updated_at": "timestamp without time zone",
    },
}  # fmt: skip


def _columns(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", (table,)
    ).fetchall()
    return dict(rows)


def test_project_migrations_create_the_seed_schema(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        applied = migrations.migrate(conn)
        assert [m.version for m in applied] == sorted(m.version for m in applied)
        assert applied[0].path.name.startswith("0001_")
        for table, expected in SEED_COLUMNS.items():
            actual = _columns(conn, table)
            assert {c: actual.get(c) for c in expected} == expected, table
        assert "organization_id" in _columns(conn, "LiteLLM_OrganizationTable")
        indexes = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'LiteLLM_SpendLogs'")
        }
        assert {"idx_spendlogs_api_key", "idx_spendlogs_created_at", "idx_spendlogs_user"} <= indexes
        # A key may belong to no user and no team; a key naming an unknown user is refused.
        conn.execute("""INSERT INTO "LiteLLM_VerificationToken" (token) VALUES ('abc')""")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                """INSERT INTO "LiteLLM_VerificationToken" (token, user_id) VALUES ('def', 'nobody')"""
            )


def test_rerun_is_a_no_op(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        first = migrations.migrate(conn)
        before = migrations.applied(conn)
        assert migrations.migrate(conn) == []
        assert migrations.applied(conn) == before
        assert len(before) == len(first)


def _write(directory: Path, name: str, text: str, flavour: str = "both") -> Path:
    path = directory / name
    path.write_text(f"-- flavour: {flavour}\n{text}")
    return path


def test_migrations_apply_in_version_order(empty_database_url: str, tmp_path: Path) -> None:
    # Written to disk in reverse order: the runner must still apply by version.
    _write(tmp_path, "0010_add_note.sql", "ALTER TABLE t ADD COLUMN note TEXT;")
    _write(tmp_path, "0002_add_b.sql", "ALTER TABLE t ADD COLUMN b INT;")
    _write(tmp_path, "0001_create.sql", "CREATE TABLE t (a INT);")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        applied = migrations.migrate(conn, tmp_path)
        assert [m.version for m in applied] == [1, 2, 10]
        assert [a.version for a in migrations.applied(conn)] == [1, 2, 10]
        assert set(_columns(conn, "t")) == {"a", "b", "note"}
        # A new migration added later is applied alone.
        _write(tmp_path, "0011_add_c.sql", "ALTER TABLE t ADD COLUMN c INT;")
        assert [m.version for m in migrations.migrate(conn, tmp_path)] == [11]


def test_edited_migration_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "0001_create.sql", "CREATE TABLE t (a INT);")
    _write(tmp_path, "0002_more.sql", "CREATE TABLE u (a INT);")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        migrations.migrate(conn, tmp_path)
        _write(tmp_path, path.name, "CREATE TABLE t (a BIGINT);")
        _write(tmp_path, "0003_new.sql", "CREATE TABLE v (a INT);")
        with pytest.raises(LlmusageError, match=r"0001_create\.sql was edited after it was applied"):
            migrations.migrate(conn, tmp_path)
        # Nothing after the refusal was applied.
        assert conn.execute("SELECT to_regclass('v')").fetchone() == (None,)


def test_edited_migration_refused_by_the_cli(empty_database_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "0001_create.sql", "CREATE TABLE t (a INT);")
    env = cli_env_for(empty_database_url, tmp_path / "home")
    ok = run_cli("db", "migrate", "--dir", str(tmp_path), env=env)
    assert ok.returncode == 0, ok.stderr
    assert "applied 0001_create.sql" in ok.stdout
    again = run_cli("db", "migrate", "--dir", str(tmp_path), env=env)
    assert again.returncode == 0 and "nothing to apply" in again.stdout
    _write(tmp_path, path.name, "CREATE TABLE t (a INT, b INT);")
    refused = run_cli("db", "migrate", "--dir", str(tmp_path), env=env)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "was edited after it was applied" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_failing_migration_is_rolled_back_whole(empty_database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_create.sql", "CREATE TABLE t (a INT);")
    _write(tmp_path, "0002_broken.sql", "CREATE TABLE half (a INT);\nALTER TABLE missing ADD COLUMN x INT;")
    env = cli_env_for(empty_database_url, tmp_path / "home")
    result = run_cli("db", "migrate", "--dir", str(tmp_path), env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "0002_broken.sql failed and was rolled back" in result.stderr
    with psycopg.connect(empty_database_url) as conn:
        assert [a.version for a in migrations.applied(conn)] == [1]
        assert conn.execute("SELECT to_regclass('t')").fetchone() != (None,)
        assert conn.execute("SELECT to_regclass('half')").fetchone() == (None,)


def test_concurrent_runs_apply_each_migration_once(empty_database_url: str) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(empty_database_url, autocommit=True) as conn:
                results.append([m.version for m in migrations.migrate(conn)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    everything = [m.version for m in migrations.discover()]
    assert sorted(v for r in results for v in r) == everything  # each applied by exactly one run


# Checksums recorded by every database migrated before the flavour headers were added (the header line is
# not part of the checksum, so marking a migration's flavour did not edit it).
RECORDED_IN_THE_WILD = {
    1: "4f72c225d77e9e2f6ebc2fa41d221fe93513eaa7272faad1f50f728532da2ccd",
    2: "be406809f5a830b2506ea01973c40fd349b11f03076076c37f9f22aa3fde6a0b",
    4: "39170dd459046e0ffb863a99a7b12bf6bfaf5f64815e8fb98f19e0404f83a705",
}


def test_headers_did_not_change_the_recorded_checksums() -> None:
    found = {m.version: m.checksum for m in migrations.discover()}
    assert {v: found[v] for v in RECORDED_IN_THE_WILD} == RECORDED_IN_THE_WILD


def test_every_migration_declares_its_flavour_and_only_llmusage_ones_touch_litellm_tables() -> None:
    found = migrations.discover()
    assert {m.version: m.flavour for m in found if m.version <= 5} == {
        1: "llmusage", 2: "llmusage", 4: "both", 5: "both",
    }  # fmt: skip
    for m in found:
        assert m.path.read_text().startswith(f"-- flavour: {m.flavour}\n"), m.path.name
        if m.flavour == "both":  # applied to LiteLLM's databases: must never name one of LiteLLM's tables
            assert "litellm_" not in m.sql.lower(), m.path.name


def test_a_migration_without_a_flavour_header_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_create.sql").write_text("CREATE TABLE t (a INT);")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        with pytest.raises(LlmusageError, match=r"0001_create\.sql does not start with a flavour header"):
            migrations.migrate(conn, tmp_path)
        assert migrations.applied(conn) == []
