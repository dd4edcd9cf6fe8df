"""No accepted spend log is lost: a PostgreSQL outage under load, then kill -9 of the proxy, then a restart.

Every request that got a 200 must have exactly one spend log afterwards, and every key's, user's and
team's spend must equal the sum of its logs.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import openai
import psycopg
import pytest

from support.proxy import (
    http,
    proxy_env,
    set_database_reachable,
    sha,
    spend_mismatches,
    start_mock,
    start_proxy,
    wait_for,
)

pytestmark = pytest.mark.slow  # a fault, outage, crash or soak test: left out of `make test-fast`

KEYS = [f"sk-crash-{i}-{'0' * 20}" for i in range(3)]


def _setup(conn: psycopg.Connection, mock_url: str) -> None:
    conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id, max_budget) VALUES ('team-c', 1000)""")
    conn.execute(
        """INSERT INTO "LiteLLM_UserTable" (user_id, user_role, max_budget) VALUES ('u-c', 'user', 1000)"""
    )
    for i, key in enumerate(KEYS):
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, max_budget)
               VALUES (%s, %s, %s, 'team-c', 1000)""",
            (sha(key), f"crash-{i}", "u-c" if i else None),
        )
    params = {"model": "openai/up", "api_base": mock_url, "api_key": "os.environ/MOCK_PROVIDER_KEY"}
    info = {"input_cost_per_token": 1e-6, "output_cost_per_token": 3e-6}
    conn.execute(
        """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
           VALUES ('m-c', 'chat', %s, %s)""",
        (json.dumps(params), json.dumps(info)),
    )
    conn.commit()


def test_outage_then_kill9_loses_no_accepted_log(database_url: str, tmp_path: Path) -> None:
    env = proxy_env(database_url, tmp_path / "home")
    mock = start_mock(tmp_path, env)
    proxy = None
    try:
        with psycopg.connect(database_url) as conn:
            _setup(conn, mock.url + "/v1")
        proxy = start_proxy(tmp_path, env, "--cache-ttl", "0.5")
        ok: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def load(i: int) -> None:
            c = openai.OpenAI(base_url=proxy.url + "/v1", api_key=KEYS[i % 3], max_retries=0, timeout=10)
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    raw = c.chat.completions.with_raw_response.create(
                        model="chat",
                        messages=[{"role": "user", "content": f"w{i} n{n}"}],
                        max_tokens=1 + n % 5,
                    )
                except (openai.APIConnectionError, openai.APIStatusError):
                    if stop.is_set():
                        return
                    continue
                with lock:
                    ok.append(raw.headers["x-request-id"])

        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(6)]
        for t in threads:
            t.start()
        assert wait_for(lambda: len(ok) >= 150, timeout=30)
        set_database_reachable(database_url, False)
        try:
            before = len(ok)
            assert wait_for(lambda: len(ok) >= before + 150, timeout=30)  # still serving, spooling
            proxy.kill9()
            stop.set()
            for t in threads:
                t.join(15)
        finally:
            set_database_reachable(database_url, True)
        spooled = list((tmp_path / "home" / "spool").glob("seg-*.jsonl"))
        assert spooled  # the outage left rows in the spool

        proxy = start_proxy(tmp_path, env)

        def drained() -> bool:
            status, _, body = http("GET", proxy.url + "/health/ready")
            return status == 200 and json.loads(body)["spool"]["depth"] == 0

        assert wait_for(drained, timeout=30)
        with psycopg.connect(database_url) as conn:
            found = conn.execute(
                'SELECT request_id, count(*) FROM "LiteLLM_SpendLogs" WHERE request_id = ANY(%s) GROUP BY 1',
                (ok,),
            ).fetchall()
            assert len(found) == len(set(ok)) and all(n == 1 for _, n in found)
            assert spend_mismatches(conn) == []
            total = conn.execute('SELECT COALESCE(SUM(spend), 0) FROM "LiteLLM_SpendLogs"').fetchone()[0]
            team = conn.execute(
                """SELECT spend FROM "LiteLLM_TeamTable" WHERE team_id = 'team-c'"""
            ).fetchone()[0]
            assert team == pytest.approx(total, abs=1e-12) and total > 0
        assert not list((tmp_path / "home" / "spool").glob("seg-*.jsonl")) or drained()
    finally:
        if proxy is not None:
            proxy.stop()
        mock.stop()


def test_a_full_spool_refuses_with_503_until_postgres_is_back(database_url: str, tmp_path: Path) -> None:
    env = proxy_env(database_url, tmp_path / "home")
    mock = start_mock(tmp_path, env)
    proxy = None
    try:
        with psycopg.connect(database_url) as conn:  # the module's database: point the model at this mock
            conn.execute(
                """UPDATE "LiteLLM_ProxyModelTable"
                   SET litellm_params = jsonb_set(litellm_params, '{api_base}', to_jsonb(%s::text))""",
                (mock.url + "/v1",),
            )
        proxy = start_proxy(tmp_path, env, "--spool-max-mb", "0.002")  # about 3 rows
        c = openai.OpenAI(base_url=proxy.url + "/v1", api_key=KEYS[0], max_retries=0, timeout=10)

        def ask() -> int:
            try:
                c.chat.completions.create(
                    model="chat", messages=[{"role": "user", "content": "x"}], max_tokens=1
                )
            except openai.APIStatusError as exc:
                assert exc.response.json()["error"]["code"] == "spool_full"
                return exc.status_code
            return 200

        assert ask() == 200  # warms the key cache
        set_database_reachable(database_url, False)
        try:
            statuses = [ask() for _ in range(20)]
            assert statuses[0] == 200 and 503 in statuses and set(statuses) == {200, 503}
            status, _, body = http("GET", proxy.url + "/health/ready")
            assert status == 503 and json.loads(body)["spool"]["full"] is True
        finally:
            set_database_reachable(database_url, True)
        assert wait_for(lambda: http("GET", proxy.url + "/health/ready")[0] == 200, timeout=30)
        assert ask() == 200
        with psycopg.connect(database_url) as conn:
            assert spend_mismatches(conn) == []
    finally:
        if proxy is not None:
            proxy.stop()
        mock.stop()


def test_a_row_postgres_refuses_is_set_aside_and_does_not_block_the_rest(
    database_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "home" / "spool"
    spool.mkdir(parents=True)
    good = {
        "request_id": "orphan-good",
        "api_key": sha(KEYS[1]),
        "model": "chat",
        "spend": 0.5,
        "user": "u-c",
        "team_id": "team-c",
        "metadata": {},
        "created_at": "2026-01-01T00:00:00",
    }
    bad = {**good, "request_id": "orphan-bad", "created_at": "not a timestamp"}
    (spool / "seg-1-000001.jsonl").write_text(json.dumps(bad) + "\n" + json.dumps(good) + "\n")
    env = proxy_env(database_url, tmp_path / "home")
    with psycopg.connect(database_url) as conn:
        spend_before = conn.execute(
            """SELECT spend FROM "LiteLLM_TeamTable" WHERE team_id = 'team-c'"""
        ).fetchone()[0]
    proxy = start_proxy(tmp_path, env)
    try:

        def drained() -> bool:
            status, _, body = http("GET", proxy.url + "/health/ready")
            return status == 200 and json.loads(body)["spool"]["depth"] == 0

        assert wait_for(drained, timeout=30)
        with psycopg.connect(database_url) as conn:
            ids = {
                r[0]
                for r in conn.execute(
                    """SELECT request_id FROM "LiteLLM_SpendLogs" WHERE request_id LIKE 'orphan-%'"""
                )
            }
            assert ids == {"orphan-good"}
            team = conn.execute(
                """SELECT spend FROM "LiteLLM_TeamTable" WHERE team_id = 'team-c'"""
            ).fetchone()[0]
            assert team == pytest.approx(spend_before + 0.5)
            assert spend_mismatches(conn) == []
        [rejected] = list(spool.glob("rejected-*.jsonl"))
        assert json.loads(rejected.read_text())["request_id"] == "orphan-bad"
        assert not list(spool.glob("seg-1-*"))
    finally:
        proxy.stop()
