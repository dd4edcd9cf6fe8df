"""No accepted spend log is lost: a PostgreSQL outage under load, then kill -9 of the proxy, then a restart.

Every request that got a 200 must have exactly one spend log afterwards, and every key's, user's, team's
and organization's spend must equal the sum of its logs. A replayed segment whose rows are partly in
PostgreSQL already counts only the rows that are new. Each test stands alone (`seeded` makes the accounts,
each test points the model at its own mock).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
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


@pytest.fixture(scope="module")
def seeded(database_url: str) -> str:
    """An organization, a team in it, a user and three keys in the team, and a priced model whose
    upstream each test sets (`_point_at`)."""
    with psycopg.connect(database_url) as conn:
        _setup(conn, "http://127.0.0.1:9/v1")
    return database_url


def _point_at(database_url: str, mock_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """UPDATE "LiteLLM_ProxyModelTable"
               SET litellm_params = jsonb_set(litellm_params, '{api_base}', to_jsonb(%s::text))""",
            (mock_url,),
        )


def _drained(url: str) -> Callable[[], bool]:
    def check() -> bool:
        status, _, body = http("GET", url + "/health/ready")
        return status == 200 and json.loads(body)["spool"]["depth"] == 0

    return check


def _counters(conn: psycopg.Connection) -> dict[str, float]:
    """The spend columns of the key KEYS[1], its user, its team and the team's organization."""
    return dict(
        conn.execute(
            """SELECT 'key', spend FROM "LiteLLM_VerificationToken" WHERE token = %s
               UNION ALL SELECT 'user', spend FROM "LiteLLM_UserTable" WHERE user_id = 'u-c'
               UNION ALL SELECT 'team', spend FROM "LiteLLM_TeamTable" WHERE team_id = 'team-c'
               UNION ALL SELECT 'organization', spend FROM "LiteLLM_OrganizationTable"
                         WHERE organization_id = 'org-c'""",
            (sha(KEYS[1]),),
        ).fetchall()
    )


def _setup(conn: psycopg.Connection, mock_url: str) -> None:
    conn.execute(
        """INSERT INTO "LiteLLM_OrganizationTable" (organization_id, max_budget) VALUES ('org-c', 1000)"""
    )
    conn.execute(
        """INSERT INTO "LiteLLM_TeamTable" (team_id, organization_id, max_budget) VALUES ('team-c', 'org-c', 1000)"""
    )
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


def test_outage_then_kill9_loses_no_accepted_log(seeded: str, tmp_path: Path) -> None:
    database_url = seeded
    env = proxy_env(database_url, tmp_path / "home")
    mock = start_mock(tmp_path, env)
    proxy = None
    try:
        _point_at(database_url, mock.url + "/v1")
        proxy = start_proxy(tmp_path, env, "--cache-ttl", "0.5")
        ok: list[str] = []
        refused: list[int] = []  # any answer but a 200 (a 500 included) while the proxy was up
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
                except openai.APIStatusError as exc:
                    with lock:
                        refused.append(exc.status_code)
                    continue
                except openai.APIConnectionError:  # the kill -9: the connection is gone, not answered
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
        assert refused == []  # during the outage too: every answer was a 200 (spooled), none a 5xx
        spooled = list((tmp_path / "home" / "spool").glob("seg-*.jsonl"))
        assert spooled  # the outage left rows in the spool

        proxy = start_proxy(tmp_path, env)
        assert wait_for(_drained(proxy.url), timeout=30)
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
            assert _counters(conn)["organization"] == pytest.approx(total, abs=1e-12)
        left = [p.name for p in spooled if p.exists()]
        assert left == []  # the dead proxy's segments, replayed and committed, are gone
    finally:
        if proxy is not None:
            proxy.stop()
        mock.stop()


def test_a_full_spool_refuses_with_503_until_postgres_is_back(seeded: str, tmp_path: Path) -> None:
    database_url = seeded
    env = proxy_env(database_url, tmp_path / "home")
    mock = start_mock(tmp_path, env)
    proxy = None
    try:
        _point_at(database_url, mock.url + "/v1")
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


def test_a_row_postgres_refuses_is_set_aside_and_does_not_block_the_rest(seeded: str, tmp_path: Path) -> None:
    database_url = seeded
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
        before = _counters(conn)
    proxy = start_proxy(tmp_path, env)
    try:
        assert wait_for(_drained(proxy.url), timeout=30)
        with psycopg.connect(database_url) as conn:
            ids = {
                r[0]
                for r in conn.execute(
                    """SELECT request_id FROM "LiteLLM_SpendLogs" WHERE request_id LIKE 'orphan-%'"""
                )
            }
            assert ids == {"orphan-good"}
            after = _counters(conn)
            assert after == pytest.approx({kind: spend + 0.5 for kind, spend in before.items()})
            assert spend_mismatches(conn) == []
        [rejected] = list(spool.glob("rejected-*.jsonl"))
        assert json.loads(rejected.read_text())["request_id"] == "orphan-bad"
        assert not list(spool.glob("seg-1-*"))
    finally:
        proxy.stop()


def test_a_replayed_segment_counts_only_the_rows_not_yet_written(seeded: str, tmp_path: Path) -> None:
    """A proxy died after its batch committed but before its segment was deleted: the segment holds rows
    PostgreSQL has, and one it has not. The next proxy replays it: key, user, team and organization grow by
    the new row only, and every row is there once."""
    database_url = seeded
    row = {
        "api_key": sha(KEYS[1]),
        "model": "chat",
        "user": "u-c",
        "team_id": "team-c",
        "metadata": {},
        "created_at": "2026-01-02T00:00:00",
    }
    written = [{**row, "request_id": f"replay-old-{i}", "spend": 0.125 * (i + 1)} for i in range(2)]
    new = {**row, "request_id": "replay-new", "spend": 0.0625}
    with psycopg.connect(database_url) as conn:  # the rows and the counters as the dead proxy left them
        for r in written:
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, "user", team_id, metadata,
                   created_at) VALUES (%s, %s, %s, %s, %s, %s, '{}', %s)""",
                (
                    r["request_id"],
                    r["api_key"],
                    r["model"],
                    r["spend"],
                    r["user"],
                    r["team_id"],
                    r["created_at"],
                ),
            )
        old = sum(r["spend"] for r in written)
        conn.execute(
            'UPDATE "LiteLLM_VerificationToken" SET spend = spend + %s WHERE token = %s', (old, sha(KEYS[1]))
        )
        conn.execute("""UPDATE "LiteLLM_UserTable" SET spend = spend + %s WHERE user_id = 'u-c'""", (old,))
        conn.execute("""UPDATE "LiteLLM_TeamTable" SET spend = spend + %s WHERE team_id = 'team-c'""", (old,))
        conn.execute(
            """UPDATE "LiteLLM_OrganizationTable" SET spend = spend + %s WHERE organization_id = 'org-c'""",
            (old,),
        )
        assert spend_mismatches(conn) == []
        before = _counters(conn)
    spool = tmp_path / "home" / "spool"
    spool.mkdir(parents=True)
    segment = spool / "seg-1-000007.jsonl"
    segment.write_text("".join(json.dumps(r) + "\n" for r in [written[0], new, written[1]]))
    proxy = start_proxy(tmp_path, proxy_env(database_url, tmp_path / "home"))
    try:
        assert wait_for(_drained(proxy.url), timeout=30)
        with psycopg.connect(database_url) as conn:
            after = _counters(conn)
            assert after == pytest.approx({kind: spend + 0.0625 for kind, spend in before.items()}, abs=1e-12)
            counts = conn.execute(
                """SELECT request_id, count(*) FROM "LiteLLM_SpendLogs" WHERE request_id LIKE 'replay-%'
                   GROUP BY 1 ORDER BY 1"""
            ).fetchall()
            assert counts == [("replay-new", 1), ("replay-old-0", 1), ("replay-old-1", 1)]
            assert spend_mismatches(conn) == []
        assert not segment.exists()
    finally:
        proxy.stop()
