"""Bad input: one clear line on stderr, a non-zero exit, and nothing half-written."""

from __future__ import annotations

import psycopg
import pytest

from support.db import run_cli


def _one_line_error(result, code: int = 1) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize(
    "url", ["postgresql://user@host:notaport/db", "mysql://root@localhost/db", "not a url"]
)
def test_malformed_url(cli_env: dict[str, str], url: str) -> None:
    err = _one_line_error(run_cli("db", "status", env={**cli_env, "LLMUSAGE_DATABASE_URL": url}))
    assert "URL" in err


def test_server_down(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "LLMUSAGE_DATABASE_URL": "postgresql://postgres:secret@127.0.0.1:1/llmusage"}
    err = _one_line_error(run_cli("db", "migrate", env=env))
    assert "cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/llmusage" in err
    assert "secret" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--logs", "-5"], "--logs must be between"),
        (["--days", "0"], "--days must be between"),
        (["--seed", "-1"], "--seed must be"),
        (["--end", "yesterday"], "--end must be a date"),
    ],
)
def test_invalid_seed_arguments(cli_env: dict[str, str], args: list[str], needle: str) -> None:
    err = _one_line_error(run_cli("seed", *args, env=cli_env))
    assert needle in err


def test_non_numeric_seed_argument_is_a_usage_error(cli_env: dict[str, str]) -> None:
    err = _one_line_error(run_cli("seed", "--logs", "many", env=cli_env), code=2)
    assert "'many' is not a valid integer" in err


def test_seed_refuses_to_overwrite_without_reset(cli_env: dict[str, str], database_url: str) -> None:
    first = run_cli("seed", "--logs", "500", "--days", "2", "--end", "2026-01-31", env=cli_env)
    assert first.returncode == 0, first.stderr
    with psycopg.connect(database_url) as conn:
        before = conn.execute('SELECT count(*), sum(spend) FROM "LiteLLM_SpendLogs"').fetchone()
    err = _one_line_error(run_cli("seed", "--logs", "900", "--seed", "5", env=cli_env))
    assert "pass --reset" in err
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT count(*), sum(spend) FROM "LiteLLM_SpendLogs"').fetchone() == before


def test_seed_on_an_unmigrated_database(empty_database_url: str, cli_env: dict[str, str]) -> None:
    err = _one_line_error(
        run_cli("seed", "--logs", "10", env={**cli_env, "LLMUSAGE_DATABASE_URL": empty_database_url})
    )
    assert "run `llmusage db migrate`" in err
