"""Golden costs through the real proxy: the official `openai` client, `llmusage proxy` and mock-upstream (with
its usage details), each log's `spend` and `metadata.cost_breakdown` checked against costs computed by hand
(the literals below), to 1e-12 USD.

Prices (USD per token unless said): plain 1.5e-6 in / 6e-6 out; cached 2e-6 in / 5e-7 cache read /
2.5e-6 cache creation / 8e-6 out; reasoning 1e-6 in / 4e-6 out / 1e-5 reasoning; embed 1e-7 in (5e-6 out,
never used); per-request 1e-6 in / 2e-6 out / 0.002 per request; changing 1e-6 in / 2e-6 out, then
4e-6 / 8e-6 from the change's instant on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import openai
import psycopg
import pytest

from support.proxy import http, mock_and_proxy, sha, wait_for

KEY = "sk-test-cost-golden-000000000"
TOL = 1e-12
MODELS: dict[str, dict[str, Any]] = {
    "plain": {"input_cost_per_token": 1.5e-6, "output_cost_per_token": 6e-6},
    "cached": {
        "input_cost_per_token": 2e-6,
        "cache_read_input_token_cost": 5e-7,
        "cache_creation_input_token_cost": 2.5e-6,
        "output_cost_per_token": 8e-6,
    },
    "reasoning": {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6, "output_cost_per_reasoning_token": 1e-5},
    "embed": {"input_cost_per_token": 1e-7, "output_cost_per_token": 5e-6},
    "per-request": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "input_cost_per_request": 0.002},
    "changing": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
}  # fmt: skip


def _setup(conn: psycopg.Connection, mock_url: str) -> None:
    conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id, max_budget) VALUES ('team-cost', NULL)""")
    conn.execute(
        """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, team_id) VALUES (%s, 'cost', 'team-cost')""",
        (sha(KEY),),
    )
    for name, info in MODELS.items():
        params = {"model": f"openai/up-{name}", "api_base": mock_url}
        conn.execute(
            """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
               VALUES (%s, %s, %s, %s)""",
            (f"m-{name}", name, json.dumps(params), json.dumps(info)),
        )
    conn.commit()


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("cost")
    with mock_and_proxy(database_url, tmp, _setup, "--cache-ttl", "0.3") as (_mock, proxy):
        yield {"proxy": proxy, "db": database_url}


def _client(world: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(base_url=world["proxy"].url + "/v1", api_key=KEY, max_retries=0, timeout=20)


def _log(world: dict[str, Any], rid: str) -> dict[str, Any]:
    def fetch() -> dict[str, Any] | None:
        with psycopg.connect(world["db"]) as conn:
            cur = conn.execute(
                'SELECT request_id, spend, prompt_tokens, completion_tokens, metadata, created_at FROM "LiteLLM_SpendLogs" '
                "WHERE request_id = %s",
                (rid,),
            )
            row = cur.fetchone()
            return dict(zip([d.name for d in cur.description], row, strict=True)) if row else None

    row = wait_for(fetch)
    assert row is not None, f"no spend log for {rid}"
    return row


def _assert_cost(row: dict[str, Any], total: float, version: str, **parts: tuple[int, float, float]) -> None:
    """`parts`: component -> (tokens, price, hand-computed cost); every other component absent."""
    assert abs(row["spend"] - total) < TOL, (row["spend"], total)
    breakdown = row["metadata"]["cost_breakdown"]
    assert breakdown["version"] == version
    assert abs(breakdown["total"] - total) < TOL and breakdown["total"] == row["spend"]
    got = {k: v for k, v in breakdown.items() if k not in ("version", "total")}
    assert set(got) == set(parts), got
    for name, (tokens, price, cost) in parts.items():
        assert got[name]["tokens"] == tokens and got[name]["price"] == price, (name, got[name])
        assert abs(got[name]["cost"] - cost) < TOL, (name, got[name]["cost"], cost)


def test_plain_chat(world: dict[str, Any]) -> None:
    raw = _client(world).chat.completions.with_raw_response.create(
        model="plain", messages=[{"role": "user", "content": "one two three four five"}], max_tokens=7
    )
    row = _log(world, raw.headers["x-request-id"])
    # 5 x 1.5e-6 = 7.5e-6; 7 x 6e-6 = 4.2e-5
    _assert_cost(row, 4.95e-5, "base", input=(5, 1.5e-6, 7.5e-6), output=(7, 6e-6, 4.2e-5))
    assert abs(float(raw.headers["x-llmusage-cost"]) - 4.95e-5) < TOL


def test_cached_prompt_and_cache_creation(world: dict[str, Any]) -> None:
    c = _client(world)
    raw = c.chat.completions.with_raw_response.create(
        model="cached",
        messages=[{"role": "user", "content": "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10"}],
        max_tokens=4,
        extra_body={"mock_cached_tokens": 6, "mock_cache_creation_tokens": 3},
    )
    usage = raw.parse().usage
    assert usage.prompt_tokens == 10 and usage.prompt_tokens_details.cached_tokens == 6
    row = _log(world, raw.headers["x-request-id"])
    # 1 x 2e-6 + 6 x 5e-7 + 3 x 2.5e-6 + 4 x 8e-6 = 2e-6 + 3e-6 + 7.5e-6 + 3.2e-5
    _assert_cost(
        row,
        4.45e-5,
        "base",
        input=(1, 2e-6, 2e-6),
        cached_input=(6, 5e-7, 3e-6),
        cache_creation=(3, 2.5e-6, 7.5e-6),
        output=(4, 8e-6, 3.2e-5),
    )
    assert (row["prompt_tokens"], row["completion_tokens"]) == (10, 4)

    # A model without a cache-read price bills cached tokens at its input price.
    raw = c.chat.completions.with_raw_response.create(
        model="plain",
        messages=[{"role": "user", "content": "a b c"}],
        max_tokens=1,
        extra_body={"mock_cached_tokens": 2},
    )
    row = _log(world, raw.headers["x-request-id"])
    # 1 x 1.5e-6 + 2 x 1.5e-6 + 1 x 6e-6
    _assert_cost(
        row,
        1.05e-5,
        "base",
        input=(1, 1.5e-6, 1.5e-6),
        cached_input=(2, 1.5e-6, 3e-6),
        output=(1, 6e-6, 6e-6),
    )


def test_stream_is_priced_from_its_final_usage_chunk(world: dict[str, Any]) -> None:
    raw = _client(world).chat.completions.with_raw_response.create(
        model="cached",
        messages=[{"role": "user", "content": "a b c d"}],
        max_tokens=3,
        stream=True,
        extra_body={"mock_cached_tokens": 2},
    )
    assert len([ch for ch in raw.parse() if ch.choices]) == 3
    row = _log(world, raw.headers["x-request-id"])
    # 2 x 2e-6 + 2 x 5e-7 + 3 x 8e-6 = 4e-6 + 1e-6 + 2.4e-5
    _assert_cost(
        row, 2.9e-5, "base", input=(2, 2e-6, 4e-6), cached_input=(2, 5e-7, 1e-6), output=(3, 8e-6, 2.4e-5)
    )
    assert row["metadata"]["stream"] is True and "usage_estimated" not in row["metadata"]


def test_reasoning_tokens_at_the_reasoning_price(world: dict[str, Any]) -> None:
    raw = _client(world).chat.completions.with_raw_response.create(
        model="reasoning", messages=[{"role": "user", "content": "think hard"}], max_tokens=10
    )
    assert (
        raw.parse().usage.completion_tokens_details.reasoning_tokens == 5
    )  # mock: half, for a reasoning model
    row = _log(world, raw.headers["x-request-id"])
    # 2 x 1e-6 + 5 x 4e-6 + 5 x 1e-5 = 2e-6 + 2e-5 + 5e-5
    _assert_cost(
        row, 7.2e-5, "base", input=(2, 1e-6, 2e-6), output=(5, 4e-6, 2e-5), reasoning=(5, 1e-5, 5e-5)
    )


def test_embedding_is_priced_on_its_prompt_only(world: dict[str, Any]) -> None:
    raw = _client(world).embeddings.with_raw_response.create(model="embed", input=["hello world", "foo"])
    row = _log(world, raw.headers["x-request-id"])
    _assert_cost(row, 3e-7, "base", input=(3, 1e-7, 3e-7))  # 3 x 1e-7


def test_per_request_price(world: dict[str, Any]) -> None:
    raw = _client(world).chat.completions.with_raw_response.create(
        model="per-request", messages=[{"role": "user", "content": "x y"}], max_tokens=3
    )
    row = _log(world, raw.headers["x-request-id"])
    # 2 x 1e-6 + 3 x 2e-6 + 0.002
    _assert_cost(
        row, 0.002008, "base", input=(2, 1e-6, 2e-6), output=(3, 2e-6, 6e-6), request=(1, 0.002, 0.002)
    )


def test_price_change_applies_from_its_instant_and_past_logs_keep_theirs(world: dict[str, Any]) -> None:
    c = _client(world)

    def ask() -> dict[str, Any]:
        raw = c.chat.completions.with_raw_response.create(
            model="changing", messages=[{"role": "user", "content": "p q r"}], max_tokens=2
        )
        return _log(world, raw.headers["x-request-id"])

    old_cost = 7e-6  # 3 x 1e-6 + 2 x 2e-6
    before = ask()
    _assert_cost(before, old_cost, "base", input=(3, 1e-6, 3e-6), output=(2, 2e-6, 4e-6))

    # New prices announced ahead of their instant (a whole second, 4 s from now), as for a change at midnight.
    change = float(int(time.time()) + 4)
    valid_from = datetime.fromtimestamp(change, UTC).isoformat()
    info = {
        **MODELS["changing"],
        "id": "m-changing",
        "price_history": [
            {"valid_from": valid_from, "version": "2027-01", "input_cost_per_token": 4e-6, "output_cost_per_token": 8e-6}
        ],
    }  # fmt: skip
    body = {"model_name": "changing", "litellm_params": {"model": "openai/up-changing"}, "model_info": info}
    with psycopg.connect(world["db"]) as conn:  # keep the route's api_base: read it, send it back
        (params,) = conn.execute(
            """SELECT litellm_params FROM "LiteLLM_ProxyModelTable" WHERE model_id = 'm-changing'"""
        ).fetchone()
    body["litellm_params"] = params
    status, _, out = http(
        "POST", world["proxy"].url + "/model/new", body, {"Authorization": "Bearer sk-master-test"}
    )
    assert status == 200, out

    still_old = ask()  # before the instant: the old prices
    assert still_old["created_at"].replace(tzinfo=UTC).timestamp() < change
    _assert_cost(still_old, old_cost, "base", input=(3, 1e-6, 3e-6), output=(2, 2e-6, 4e-6))

    time.sleep(max(0.0, change - time.time()) + 0.05)
    after = ask()
    assert after["created_at"].replace(tzinfo=UTC).timestamp() >= change
    # 3 x 4e-6 + 2 x 8e-6 = 1.2e-5 + 1.6e-5
    _assert_cost(after, 2.8e-5, "2027-01", input=(3, 4e-6, 1.2e-5), output=(2, 8e-6, 1.6e-5))

    # The logs written before the change keep the prices they were written with.
    _assert_cost(
        _log(world, before["request_id"]),
        old_cost,
        "base",
        input=(3, 1e-6, 3e-6),
        output=(2, 2e-6, 4e-6),
    )
    with psycopg.connect(world["db"]) as conn:
        spends = [r[0] for r in conn.execute(
            """SELECT spend FROM "LiteLLM_SpendLogs" WHERE model = 'changing' ORDER BY created_at"""
        ).fetchall()]  # fmt: skip
    assert len(spends) == 3 and all(
        abs(a - b) < TOL for a, b in zip(spends, (7e-6, 7e-6, 2.8e-5), strict=True)
    )


def test_model_new_refuses_a_malformed_price_history(world: dict[str, Any]) -> None:
    for history, message in (
        ([{"input_cost_per_token": 1e-6}], "valid_from"),
        ([{"valid_from": "2027-01-01", "output_cost_per_token": -1}], "non-negative"),
        ("soon", "list"),
    ):
        body = {
            "model_name": "bad",
            "litellm_params": {"model": "openai/x"},
            "model_info": {"input_cost_per_token": 1e-6, "price_history": history},
        }
        status, _, out = http(
            "POST", world["proxy"].url + "/model/new", body, {"Authorization": "Bearer sk-master-test"}
        )
        assert status == 400 and message in json.loads(out)["error"]["message"], out
