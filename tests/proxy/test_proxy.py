"""The ingest proxy end to end: the official `openai` client against a running proxy and mock-upstream.

Servers are real subprocesses on free loopback ports; the database is this module's fresh one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import psycopg
import pytest

from support.proxy import (
    closed_port,
    http,
    mock_and_proxy,
    sha,
    spend_mismatches,
    wait_for,
)

IN, OUT = 1e-6, 2e-6
KEYS = {
    "good": "sk-test-good-0000000000000000",
    "expired": "sk-test-expired-000000000000",
    "blocked": "sk-test-blocked-000000000000",
    "team_blocked": "sk-test-teamblocked-00000000",
    "flagged": "sk-test-flagged-000000000000",
    "key_models": "sk-test-keymodels-0000000000",
    "team_models": "sk-test-teammodels-000000000",
    "key_budget": "sk-test-keybudget-0000000000",
    "user_budget": "sk-test-userbudget-000000000",
    "team_budget": "sk-test-teambudget-000000000",
    "org_budget": "sk-test-orgbudget-0000000000",
    "concurrent": "sk-test-concurrent-000000000",
    "to_block": "sk-test-toblock-000000000000",
    "invariants": "sk-test-invariants-000000000",
    # A real budget crossed by real spend, one level at a time: two keys under each capped entity.
    "cap_user": "sk-test-capuser-000000000000",
    "cap_user_2": "sk-test-capuser2-00000000000",
    "cap_team": "sk-test-capteam-000000000000",
    "cap_team_2": "sk-test-capteam2-00000000000",
    "cap_organization": "sk-test-caporg-0000000000000",
    "cap_organization_2": "sk-test-caporg2-000000000000",
}
CAP = 0.0003  # the budget of u-cap, team-cap and org-cap: a 100-token answer (0.000201) fits once, not twice


def _setup(conn: psycopg.Connection, mock_url: str, dead_url: str) -> None:
    x = conn.execute
    x(
        """INSERT INTO "LiteLLM_OrganizationTable" (organization_id, max_budget) VALUES ('org-1', NULL), ('org-broke', 0),
           ('org-cap', %s), ('org-inv', NULL)""",
        (CAP,),
    )
    x(
        """INSERT INTO "LiteLLM_TeamTable" (team_id, organization_id, max_budget, models, blocked) VALUES
         ('team-a', 'org-1', NULL, NULL, FALSE), ('team-blocked', 'org-1', NULL, NULL, TRUE),
         ('team-limited', 'org-1', NULL, ARRAY['chat-cheap'], FALSE), ('team-broke', 'org-1', 0, NULL, FALSE),
         ('team-orgbroke', 'org-broke', NULL, NULL, FALSE), ('team-conc', NULL, NULL, NULL, FALSE),
         ('team-cap', NULL, %(cap)s, NULL, FALSE), ('team-in-org-cap', 'org-cap', NULL, NULL, FALSE)""",
        {"cap": CAP},
    )
    x(
        """INSERT INTO "LiteLLM_UserTable" (user_id, user_role, organization_id, max_budget, user_metadata) VALUES
         ('alice', 'user', 'org-1', NULL, '{}'), ('flagged', 'user', 'org-1', NULL, '{"llmusage_block": {"reason": "budget_exceeded"}}'),
         ('broke', 'user', 'org-1', 0, '{}'), ('u-cap', 'user', NULL, %s, '{}'), ('u-inv', 'user', 'org-inv', NULL, '{}')""",
        (CAP,),
    )
    rows = [
        ("good", "alice", "team-a", None, None, "NULL", False),
        ("expired", "alice", "team-a", None, None, "now() - interval '1 hour'", False),
        ("blocked", "alice", "team-a", None, None, "NULL", True),
        ("team_blocked", "alice", "team-blocked", None, None, "NULL", False),
        ("flagged", "flagged", "team-a", None, None, "NULL", False),
        ("key_models", "alice", "team-a", ["chat-cheap"], None, "NULL", False),
        ("team_models", "alice", "team-limited", None, None, "NULL", False),
        ("key_budget", "alice", "team-a", None, 0.0, "NULL", False),
        ("user_budget", "broke", "team-a", None, None, "NULL", False),
        ("team_budget", "alice", "team-broke", None, None, "NULL", False),
        ("org_budget", None, "team-orgbroke", None, None, "NULL", False),
        ("concurrent", None, "team-conc", None, 0.001, "NULL", False),
        ("to_block", "alice", "team-a", None, None, "NULL", False),
        ("invariants", "u-inv", None, None, None, "NULL", False),  # its organization is its user's
        ("cap_user", "u-cap", None, None, None, "NULL", False),
        ("cap_user_2", "u-cap", None, None, None, "NULL", False),
        ("cap_team", None, "team-cap", None, None, "NULL", False),
        ("cap_team_2", None, "team-cap", None, None, "NULL", False),
        ("cap_organization", None, "team-in-org-cap", None, None, "NULL", False),
        ("cap_organization_2", None, "team-in-org-cap", None, None, "NULL", False),
    ]
    for alias, user, team, models, budget, expires, blocked in rows:
        x(
            f"""INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, models, max_budget,
                expires, blocked) VALUES (%s, %s, %s, %s, %s, %s, {expires}, %s)""",
            (sha(KEYS[alias]), alias, user, team, models, budget, blocked),
        )
    for name, base, out in (
        ("chat", mock_url, OUT),
        ("chat-cheap", mock_url, OUT / 2),
        ("embed", mock_url, 0.0),
        ("dead", dead_url, OUT),
    ):
        params = {"model": f"openai/up-{name}", "api_base": base, "api_key": "os.environ/MOCK_PROVIDER_KEY"}
        x(
            """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
               VALUES (%s, %s, %s, %s)""",
            (
                f"m-{name}",
                name,
                json.dumps(params),
                json.dumps({"input_cost_per_token": IN, "output_cost_per_token": out}),
            ),
        )
    conn.commit()


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("proxy")
    with (
        closed_port() as dead,  # the "dead" model's upstream: a port that refuses, held for the module
        mock_and_proxy(
            database_url,
            tmp,
            lambda conn, mock_url: _setup(conn, mock_url, f"http://127.0.0.1:{dead}/v1"),
            "--cache-ttl", "0.3", "--upstream-timeout", "1.5",
        ) as (mock, proxy),
    ):  # fmt: skip
        yield {"proxy": proxy, "mock": mock, "db": database_url, "tmp": tmp}


def client(world: dict[str, Any], key: str = "good") -> openai.OpenAI:
    return openai.OpenAI(
        base_url=world["proxy"].url + "/v1", api_key=KEYS.get(key, key), max_retries=0, timeout=20
    )


def log_row(world: dict[str, Any], request_id: str) -> dict[str, Any] | None:
    def fetch() -> dict[str, Any] | None:
        with psycopg.connect(world["db"]) as conn:
            cur = conn.execute('SELECT * FROM "LiteLLM_SpendLogs" WHERE request_id = %s', (request_id,))
            row = cur.fetchone()
            return dict(zip([d.name for d in cur.description], row, strict=True)) if row else None

    return wait_for(fetch)


def test_chat_is_forwarded_priced_and_logged(world: dict[str, Any]) -> None:
    raw = client(world).chat.completions.with_raw_response.create(
        model="chat",
        messages=[{"role": "user", "content": "one two three four five"}],
        max_tokens=7,
        user="end-user-42",
        extra_body={"metadata": {"tags": ["app:test", "env:ci"]}},
    )
    completion = raw.parse()
    assert completion.usage.prompt_tokens == 5 and completion.usage.completion_tokens == 7
    assert completion.choices[0].message.content
    rid = raw.headers["x-request-id"]
    cost = 5 * IN + 7 * OUT
    assert float(raw.headers["x-llmusage-cost"]) == pytest.approx(cost, abs=1e-15)
    row = log_row(world, rid)
    assert row is not None
    assert row["api_key"] == sha(KEYS["good"]) and row["user"] == "alice" and row["team_id"] == "team-a"
    assert row["model"] == "chat" and row["api_provider"] == "openai"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (5, 7, 12)
    assert row["spend"] == pytest.approx(cost, abs=1e-15)
    meta = row["metadata"]
    assert meta["tags"] == ["app:test", "env:ci"] and meta["end_user"] == "end-user-42"
    assert meta["status"] == "success" and meta["latency_ms"] >= 0
    assert row["payload"] is None


def test_nul_characters_from_the_client_do_not_block_the_log(world: dict[str, Any]) -> None:
    raw = client(world).chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "x"}], max_tokens=1, user="a\u0000b",
        extra_body={"metadata": {"tags": ["t\u0000"]}},
    )  # fmt: skip
    row = log_row(world, raw.headers["x-request-id"])
    assert row is not None and row["metadata"]["end_user"] == "ab" and row["metadata"]["tags"] == ["t"]


def test_stream_passes_chunks_and_logs_usage(world: dict[str, Any]) -> None:
    c = client(world)
    raw = c.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "stream me"}], max_tokens=5, stream=True
    )
    chunks = list(raw.parse())
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert len(text.split()) == 5
    assert all(ch.choices for ch in chunks)  # the usage chunk we asked upstream for is not forwarded
    row = log_row(world, raw.headers["x-request-id"])
    assert row is not None and (row["prompt_tokens"], row["completion_tokens"]) == (2, 5)
    assert row["spend"] == pytest.approx(2 * IN + 5 * OUT, abs=1e-15)

    # A client that asks for usage gets the usage chunk.
    stream = c.chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": "a b c"}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = [ch.usage for ch in stream if ch.usage is not None]
    assert len(usage) == 1 and usage[0].prompt_tokens == 3 and usage[0].completion_tokens == 4


def test_completions_and_embeddings(world: dict[str, Any]) -> None:
    c = client(world)
    raw = c.completions.with_raw_response.create(model="chat", prompt="say something nice", max_tokens=3)
    assert raw.parse().usage.completion_tokens == 3
    row = log_row(world, raw.headers["x-request-id"])
    assert row is not None and row["spend"] == pytest.approx(3 * IN + 3 * OUT, abs=1e-15)
    emb = c.embeddings.with_raw_response.create(model="embed", input=["hello world", "foo"])
    parsed = emb.parse()
    assert len(parsed.data) == 2 and parsed.usage.prompt_tokens == 3
    row = log_row(world, emb.headers["x-request-id"])
    assert row is not None and row["spend"] == pytest.approx(3 * IN, abs=1e-15)
    assert row["metadata"]["call_type"] == "embeddings"


def test_models_lists_what_the_key_may_use(world: dict[str, Any]) -> None:
    with psycopg.connect(world["db"]) as conn:  # the whole catalog (test_management_api may have added one)
        catalog = {r[0] for r in conn.execute('SELECT model_name FROM "LiteLLM_ProxyModelTable"')}
    assert {"chat", "chat-cheap", "embed", "dead"} <= catalog
    assert {m.id for m in client(world).models.list()} == catalog
    assert {m.id for m in client(world, "key_models").models.list()} == {"chat-cheap"}
    assert {m.id for m in client(world, "team_models").models.list()} == {"chat-cheap"}


def _refusal(world: dict[str, Any], key: str, model: str = "chat", **kw: Any) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        client(world, key).chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=2, **kw
        )
    return info.value


@pytest.mark.parametrize(
    ("key", "model", "status", "code"),
    [
        ("sk-unknown-key", "chat", 401, "invalid_api_key"),
        ("expired", "chat", 403, "key_expired"),
        ("blocked", "chat", 403, "key_blocked"),
        ("team_blocked", "chat", 403, "team_blocked"),
        ("flagged", "chat", 403, "user_blocked"),
        ("key_models", "chat", 403, "model_not_allowed"),
        ("team_models", "chat", 403, "model_not_allowed"),
        ("good", "no-such-model", 404, "model_not_found"),
    ],
)
def test_refusals(world: dict[str, Any], key: str, model: str, status: int, code: str) -> None:
    err = _refusal(world, key, model)
    assert err.status_code == status
    body = err.response.json()["error"]
    assert body["code"] == code and body["message"] and body["type"]
    assert err.response.headers["x-request-id"] and err.response.headers["x-llmusage-cost"] == "0"


@pytest.mark.parametrize("key", ["key_budget", "user_budget", "team_budget", "org_budget"])
def test_budget_refusals(world: dict[str, Any], key: str) -> None:
    err = _refusal(world, key)
    assert err.status_code == 429
    assert err.response.json()["error"]["type"] == "budget_exceeded"
    assert err.response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("kind", ["user", "team", "organization"])
def test_real_spend_crosses_a_user_team_or_organization_budget(world: dict[str, Any], kind: str) -> None:
    """Only the `kind` is capped (CAP); its keys have no budget: its own spend must stop it, for every key."""

    def ask(key: str) -> tuple[int, str]:
        try:
            raw = client(world, key).chat.completions.with_raw_response.create(
                model="chat", messages=[{"role": "user", "content": "hi"}], max_tokens=100
            )
        except openai.APIStatusError as exc:
            return exc.status_code, exc.response.json()["error"]["message"]
        return raw.http_response.status_code, raw.headers["x-request-id"]

    first, second, third = (ask(f"cap_{kind}") for _ in range(3))
    assert (first[0], second[0], third[0]) == (200, 200, 429), (first, second, third)
    assert third[1].startswith(f"budget exceeded for {kind}: spend 0.000402 >= max_budget 0.000300")
    other = ask(f"cap_{kind}_2")  # a key that never spent: the entity's spend refuses it too
    assert other[0] == 429 and other[1].startswith(f"budget exceeded for {kind}:")
    table, column, entity = {
        "user": ("LiteLLM_UserTable", "user_id", "u-cap"),
        "team": ("LiteLLM_TeamTable", "team_id", "team-cap"),
        "organization": ("LiteLLM_OrganizationTable", "organization_id", "org-cap"),
    }[kind]
    query = f'SELECT spend FROM "{table}" WHERE {column} = %s'
    expected = 2 * (IN + 100 * OUT)  # the two answers, nothing refused
    with psycopg.connect(world["db"], autocommit=True) as conn:

        def spent() -> float:
            return conn.execute(query, (entity,)).fetchone()[0] or 0.0

        wait_for(lambda: spent() >= expected - 1e-15)  # both rows committed (they are written in batches)
        assert spent() == pytest.approx(expected, abs=1e-15)


def test_malformed_and_unknown_routes(world: dict[str, Any]) -> None:
    url = world["proxy"].url
    auth = {"Authorization": f"Bearer {KEYS['good']}", "Content-Type": "application/json"}
    for raw in (b"{not json", b"[1, 2]", b'{"model": "chat"}', b'{"model": "chat", "messages": []}'):
        status, headers, body = http("POST", url + "/v1/chat/completions", raw=raw, headers=auth)
        assert status == 400, raw
        assert json.loads(body)["error"]["type"] == "invalid_request_error"
        assert headers["x-request-id"]
    for method, path in (("GET", "/v2/anything"), ("GET", "/v1/chat/completions"), ("DELETE", "/health")):
        status, _, body = http(method, url + path, headers=auth)
        assert status == 404 and set(json.loads(body)["error"]) == {"message", "type", "code"}


def test_upstream_failures_are_502_504_and_logged_with_zero_spend(world: dict[str, Any]) -> None:
    err = _refusal(world, "good", extra_body={"mock_status": 500})
    assert err.status_code == 502
    row = log_row(world, err.response.headers["x-request-id"])
    assert row is not None and row["spend"] == 0 and row["metadata"]["status"] == "failure"
    assert "500" in row["metadata"]["error"] and row["metadata"]["upstream_status"] == 500

    err = _refusal(world, "good", model="dead")
    assert err.status_code == 502
    row = log_row(world, err.response.headers["x-request-id"])
    assert row is not None and row["spend"] == 0 and row["metadata"]["status_code"] == 502

    err = _refusal(world, "good", extra_body={"mock_latency_ms": 3000})
    assert err.status_code == 504
    row = log_row(world, err.response.headers["x-request-id"])
    assert row is not None and row["spend"] == 0 and row["metadata"]["status_code"] == 504


def test_abandoned_stream_is_still_logged(world: dict[str, Any]) -> None:
    c = client(world)
    raw = c.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "long one"}], max_tokens=20, stream=True,
        extra_body={"mock_chunk_delay_ms": 20},
    )  # fmt: skip
    stream = raw.parse()
    first = next(iter(stream))
    assert first.choices[0].delta.content  # the first chunk arrived before the stream ended
    stream.close()
    row = log_row(world, raw.headers["x-request-id"])
    assert row is not None and row["metadata"]["status"] == "client_disconnected"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (2, 20)  # drained for the real usage
    assert row["spend"] == pytest.approx(2 * IN + 20 * OUT, abs=1e-15)


def test_a_key_blocked_in_the_database_is_refused_within_the_cache_lifetime(world: dict[str, Any]) -> None:
    c = client(world, "to_block")
    c.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}], max_tokens=1)
    with psycopg.connect(world["db"]) as conn:
        conn.execute(
            'UPDATE "LiteLLM_VerificationToken" SET blocked = TRUE WHERE key_alias = %s', ("to_block",)
        )

    def refused() -> bool:
        try:
            c.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}], max_tokens=1)
        except openai.PermissionDeniedError:
            return True
        return False

    assert wait_for(refused, timeout=10, interval=0.1)


def test_concurrent_requests_overshoot_by_at_most_the_in_flight_cost(world: dict[str, Any]) -> None:
    # Each request costs 1 * IN + 100 * OUT = 0.000201; the budget is 0.001 (about 5 requests).
    results: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        c = client(world, "concurrent")
        try:
            c.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "x"}], max_tokens=100,
                extra_body={"mock_latency_ms": 200},
            )  # fmt: skip
            status = 200
        except openai.APIStatusError as exc:
            status = exc.status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 24 and set(results) <= {200, 429}
    ok = results.count(200)
    cost = IN + 100 * OUT
    # The reservation (estimated prompt + max_tokens) admits requests while spend + reserved < budget.
    assert ok >= 1 and (ok - 1) * cost < 0.001
    with psycopg.connect(world["db"], autocommit=True) as conn:  # every 200 was logged, and only those
        assert wait_for(
            lambda: conn.execute(
                'SELECT count(*) = %s FROM "LiteLLM_SpendLogs" WHERE api_key = %s',
                (ok, sha(KEYS["concurrent"])),
            ).fetchone()[0]
        )
    err = _refusal(world, "concurrent")
    assert err.status_code == 429


def test_management_api(world: dict[str, Any]) -> None:
    url = world["proxy"].url
    master = {"Authorization": "Bearer sk-master-test", "Content-Type": "application/json"}
    assert http("POST", url + "/key/generate", {}, {"Authorization": "Bearer nope"})[0] == 401
    assert http("POST", url + "/key/generate", {}, {"Authorization": f"Bearer {KEYS['good']}"})[0] == 401
    status, _, body = http(
        "POST",
        url + "/team/new",
        {"team_alias": "mgmt", "max_budget": 5, "models": ["chat", "mgmt-model"]},
        master,
    )
    assert status == 200
    team = json.loads(body)
    status, _, body = http(
        "POST",
        url + "/user/new",
        {"user_email": "m@x", "user_role": "internal_user", "auto_create_key": False},
        master,
    )
    assert status == 200
    user = json.loads(body)
    status, _, body = http(
        "POST", url + "/model/new",
        {"model_name": "mgmt-model", "litellm_params": {"model": "openai/up", "api_base": world["mock"].url + "/v1", "api_key": "os.environ/MOCK_PROVIDER_KEY"},
         "model_info": {"input_cost_per_token": 3e-6, "output_cost_per_token": 4e-6}}, master,
    )  # fmt: skip
    assert status == 200 and "api_key" not in json.loads(body)["litellm_params"]
    status, _, body = http(
        "POST", url + "/key/generate",
        {"key_alias": "mgmt-key", "team_id": team["team_id"], "user_id": user["user_id"], "models": ["mgmt-model"], "duration": "1h", "max_budget": 1},
        master,
    )  # fmt: skip
    assert status == 200
    generated = json.loads(body)
    key = generated["key"]
    assert key.startswith("sk-") and generated["token"] == sha(key)
    with psycopg.connect(world["db"]) as conn:
        assert (
            conn.execute(
                'SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE token = %s', (key,)
            ).fetchone()[0]
            == 0
        )
    c = client(world, key)
    raw = c.chat.completions.with_raw_response.create(
        model="mgmt-model", messages=[{"role": "user", "content": "a b"}], max_tokens=2
    )
    assert float(raw.headers["x-llmusage-cost"]) == pytest.approx(2 * 3e-6 + 2 * 4e-6, abs=1e-15)
    status, _, body = http("GET", url + f"/key/info?key={key}", None, master)
    info = json.loads(body)["info"]
    assert status == 200 and info["key_alias"] == "mgmt-key" and info["team_id"] == team["team_id"]
    assert key not in body.decode()
    assert http("POST", url + "/key/block", {"key": key}, master)[0] == 200
    assert _refusal(world, key, "mgmt-model").status_code == 403
    assert http("POST", url + "/key/unblock", {"key": key}, master)[0] == 200
    c.chat.completions.create(model="mgmt-model", messages=[{"role": "user", "content": "a"}], max_tokens=1)
    assert _refusal(world, key, "chat").status_code == 403  # outside the key's models
    assert http("POST", url + "/key/generate", {"team_id": "no-such-team"}, master)[0] == 400


def test_health_ready_and_final_invariants(world: dict[str, Any]) -> None:
    """Whatever ran before (or nothing): after a request of its own, every counter equals its logs."""
    url = world["proxy"].url
    assert http("GET", url + "/health")[0] == 200
    client(world, "invariants").chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "a b c"}], max_tokens=3
    )

    def drained() -> bool:
        status, _, body = http("GET", url + "/health/ready")
        return status == 200 and json.loads(body)["spool"]["depth"] == 0

    assert wait_for(drained)
    with psycopg.connect(world["db"]) as conn:
        assert spend_mismatches(conn) == []
        (org,) = conn.execute(
            """SELECT spend FROM "LiteLLM_OrganizationTable" WHERE organization_id = 'org-inv'"""
        ).fetchone()
        assert org == pytest.approx(3 * IN + 3 * OUT, abs=1e-15)
    logs = Path(world["proxy"].log).read_text()
    assert "sk-provider-secret" not in logs and not any(k in logs for k in KEYS.values())
