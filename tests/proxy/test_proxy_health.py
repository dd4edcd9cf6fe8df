"""Honest failures: the proxy refuses a database it cannot serve before it listens, and a query that fails
while it runs is logged with PostgreSQL's cause, answered 503 and reported by `/health/ready` until it works
again.

The proxy and the mock provider are real subprocesses on loopback; the databases are real (a LiteLLM one
built by LiteLLM's own migrations, an empty one, and this module's llmusage one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import openai
import psycopg
import pytest

from llmusage.proxy.dbhealth import FailureLog, Lookups, describe
from support.db import run_cli
from support.proxy import free_port, http, mock_and_proxy, proxy_env, sha, spend_mismatches, wait_for

WARM, COLD = "sk-health-warm-00000000000000", "sk-health-cold-00000000000000"
CAUSE = "UndefinedColumn: column u.user_metadata does not exist (SQLSTATE 42703)"


def _refusal(database_url: str, tmp_path: Path) -> str:
    """Start `llmusage proxy` on `database_url`: it must exit non-zero, unlistening, saying why in a line."""
    port = free_port()
    done = run_cli("proxy", "--port", str(port), env=proxy_env(database_url, tmp_path / "home"), timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # it never listened
    return lines[0]


def test_it_refuses_a_litellm_database(litellm_database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(litellm_database_url) as conn:
        latest = conn.execute(
            "SELECT migration_name FROM _prisma_migrations ORDER BY migration_name DESC LIMIT 1"
        ).fetchone()
    assert latest is not None
    line = _refusal(litellm_database_url, tmp_path)
    assert f"is a LiteLLM database (latest migration {latest[0]})" in line
    assert "LiteLLM is the gateway here" in line and "extract/reconcile/reports" in line
    assert "llmusage proxy serves llmusage databases only" in line


def test_it_refuses_an_empty_database(empty_database_url: str, tmp_path: Path) -> None:
    line = _refusal(empty_database_url, tmp_path)
    assert "has no llmusage schema yet" in line and "run `llmusage db migrate` first" in line


def test_it_refuses_a_schema_its_queries_do_not_fit(database_url: str, tmp_path: Path) -> None:
    rename = 'ALTER TABLE "LiteLLM_UserTable" RENAME COLUMN {} TO {}'
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(rename.format("user_metadata", "user_metadata_gone"))
        try:
            line = _refusal(database_url, tmp_path)
        finally:
            conn.execute(rename.format("user_metadata_gone", "user_metadata"))
    assert "the proxy's query sql/proxy/principal.sql does not fit the database at " in line
    assert CAUSE in line and "changed by hand" in line


def _setup(conn: psycopg.Connection, mock_url: str) -> None:
    conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id) VALUES ('team-h')""")
    conn.execute("""INSERT INTO "LiteLLM_UserTable" (user_id, user_role) VALUES ('u-h', 'user')""")
    for alias, key in (("warm", WARM), ("cold", COLD)):
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id)
               VALUES (%s, %s, 'u-h', 'team-h')""",
            (sha(key), alias),
        )
    params = {"model": "openai/up", "api_base": mock_url, "api_key": "os.environ/MOCK_PROVIDER_KEY"}
    info = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
    conn.execute(
        """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
           VALUES ('m-h', 'chat', %s, %s)""",
        (json.dumps(params), json.dumps(info)),
    )


def _ask(url: str, key: str) -> int:
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=10)
    try:
        client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
    except openai.APIStatusError as exc:
        assert exc.status_code != 503 or exc.response.json()["error"]["code"] == "db_unavailable"
        return exc.status_code
    return 200


def _ready(url: str) -> tuple[int, dict[str, object]]:
    status, _, body = http("GET", url + "/health/ready")
    return status, json.loads(body)


def test_a_failing_query_is_logged_with_its_cause_refused_and_not_ready(
    database_url: str, tmp_path: Path
) -> None:
    with (
        mock_and_proxy(database_url, tmp_path, _setup, "--cache-ttl", "0.2") as (_mock, proxy),
        psycopg.connect(database_url, autocommit=True) as db,
    ):
        assert _ask(proxy.url, WARM) == 200
        assert wait_for(lambda: _ready(proxy.url)[0] == 200)

        # The key lookup's query breaks at run time (a column it reads is renamed).
        db.execute('ALTER TABLE "LiteLLM_UserTable" RENAME COLUMN user_metadata TO user_metadata_gone')
        try:
            assert [_ask(proxy.url, COLD) for _ in range(10)] == [503] * 10  # not cached: 503
            assert _ask(proxy.url, WARM) == 200  # cached: served from its last rows
            status, ready = _ready(proxy.url)
            assert status == 503 and ready["status"] == "not_ready"
            assert ready["reason"] == f"key lookups failing: {CAUSE}"
            lookups = ready["lookups"]
            assert isinstance(lookups, dict) and lookups["status"] == "failing" and lookups["error"] == CAUSE
            log = proxy.log.read_text()
            assert log.count(f"key lookup failed: {CAUSE}") == 1  # a storm is one line (per cause, per 30 s)
        finally:
            db.execute('ALTER TABLE "LiteLLM_UserTable" RENAME COLUMN user_metadata_gone TO user_metadata')
        # Readiness retries the failed lookup itself: it comes back without any traffic.
        assert wait_for(lambda: _ready(proxy.url)[0] == 200)
        assert "key lookup works again" in proxy.log.read_text()
        assert _ask(proxy.url, COLD) == 200

        # The spend write breaks: requests are still served (spooled), readiness names the cause.
        db.execute('ALTER TABLE "LiteLLM_SpendLogs" RENAME COLUMN payload TO payload_gone')
        try:
            assert _ask(proxy.url, WARM) == 200
            assert wait_for(lambda: _ready(proxy.url)[0] == 503)
            reason = str(_ready(proxy.url)[1]["reason"])
            assert reason.startswith('spend writes failing: UndefinedColumn: column "payload"')
            assert "(SQLSTATE 42703)" in reason
            assert "spend write failed: UndefinedColumn" in proxy.log.read_text()
        finally:
            db.execute('ALTER TABLE "LiteLLM_SpendLogs" RENAME COLUMN payload_gone TO payload')

        def drained() -> bool:
            status, ready = _ready(proxy.url)
            spool = ready["spool"]
            return status == 200 and isinstance(spool, dict) and spool["depth"] == 0

        assert wait_for(drained, timeout=30)
        assert spend_mismatches(db) == []


def test_the_failure_log_says_each_cause_once_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = FailureLog(interval=30.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="llmusage.proxy.db"):
        assert failures.report("key lookup", "A")
        assert not any(failures.report("key lookup", "A") for _ in range(5))
        assert failures.report("key lookup", "B")  # another cause is news
        now[0] = 31.0
        assert failures.report("key lookup", "A", "; 3 rows kept")
        failures.recovered("key lookup")
        failures.recovered("key lookup")  # said once
    assert [r.getMessage() for r in caplog.records] == [
        "key lookup failed: A",
        "key lookup failed: B",
        "key lookup failed: A; 3 rows kept (and 5 more times in the last 31 s)",
        "key lookup works again",
    ]


def test_lookups_remember_the_most_recent_failure_and_recover() -> None:
    asyncio.run(_lookups())


async def _lookups() -> None:
    broken = {"yes": True}

    async def fetch(token: str) -> str:
        if broken["yes"]:
            raise RuntimeError("no such column")
        return token

    lookups: Lookups[str] = Lookups(fetch, FailureLog())
    assert lookups.status() == {"status": "ok"}
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await lookups.fetch("digest-1")
    status = lookups.status()
    assert status["status"] == "failing" and status["error"] == "no such column" and status["failures"] == 2
    await lookups.recheck()
    assert lookups.error == "no such column"
    broken["yes"] = False
    await lookups.recheck()  # retries digest-1, which works now
    assert lookups.status() == {"status": "ok"} and lookups.failed_token is None


def test_describe_names_postgres_message_and_sqlstate(database_url: str) -> None:
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute('SELECT no_such_column FROM "LiteLLM_UserTable"')
    assert describe(caught.value) == (
        'UndefinedColumn: column "no_such_column" does not exist (SQLSTATE 42703)'
    )
    assert describe(TimeoutError()) == "TimeoutError"
    assert describe(OSError("line one\nline two")) == "OSError: line one"
