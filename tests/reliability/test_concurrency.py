"""Budgets under concurrency: 200 requests at once on a nearly spent key; two proxies sharing one budget.

One process reserves each admitted request's estimate, so 200 simultaneous requests overshoot the
budget by at most one request's cost (the one admitted while spend + reservations were just under it).
Two processes see each other's spend only through PostgreSQL, within the key cache lifetime after a batch
commits (`policy.py`), so their overshoot is bounded by what both can spend in that window; the test
computes that bound from the rates and checks it, and reconciliation over the lake shows the final state.
The shared budget is large enough (about 390 requests) that two proxies blind to each other's spend
(each spending the whole budget, an overshoot of about 390) fail the bound (about 150).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import psycopg
import pytest

from llmusage.lake.extract import extract
from llmusage.reconcile import reconcile
from support.proxy import proxy_env, sha, spend_mismatches, start_mock, start_proxy, wait_for
from support.reliability import add_key, add_model, drained

pytestmark = pytest.mark.slow  # a fault, outage, crash or soak test: left out of `make test-fast`

NEAR = "sk-near-spent-" + "n" * 20
SHARED = "sk-shared-two-proxies-" + "s" * 12
NEAR_BUDGET, NEAR_SPENT = 0.01, 0.0095
SHARED_BUDGET = 0.012
TTL = 0.5


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("conc")
    env = proxy_env(database_url, tmp / "home")
    mock = start_mock(tmp, env, "--latency-ms", "100")
    proxies = []
    try:
        with psycopg.connect(database_url) as conn:
            conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id) VALUES ('t-conc')""")
            add_key(conn, NEAR, team="t-conc", max_budget=NEAR_BUDGET, spend=NEAR_SPENT)
            add_key(conn, SHARED, team="t-conc", max_budget=SHARED_BUDGET)
            add_model(conn, mock.url + "/v1")
            # the logs behind the pre-existing spend, so that spend columns equal their logs
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, team_id)
                   VALUES ('pre-near', %s, 'chat', %s, 't-conc')""",
                (sha(NEAR), NEAR_SPENT),
            )
            conn.execute(
                """UPDATE "LiteLLM_TeamTable" SET spend = %s WHERE team_id = 't-conc'""", (NEAR_SPENT,)
            )
        for _ in range(2):
            proxies.append(start_proxy(tmp, env, "--cache-ttl", str(TTL)))
        yield {"url": database_url, "proxies": proxies, "tmp": tmp}
    finally:
        for p in proxies:
            p.stop()
        mock.stop()


async def _one(session: aiohttp.ClientSession, url: str, key: str, i: int) -> tuple[int, float]:
    body = {"model": "chat", "messages": [{"role": "user", "content": f"c{i}"}], "max_tokens": 10}
    async with session.post(
        url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as resp:
        await resp.read()
        cost = resp.headers.get("x-llmusage-cost", "0")
        return resp.status, float(cost) if resp.status == 200 else 0.0


def _spend(url: str, key: str) -> float:
    with psycopg.connect(url) as conn:
        return float(
            conn.execute(
                """SELECT spend FROM "LiteLLM_VerificationToken" WHERE token = %s""", (sha(key),)
            ).fetchone()[0]
        )


def test_200_concurrent_requests_overshoot_at_most_one_request(world: dict[str, Any]) -> None:
    proxy = world["proxies"][0]

    async def burst() -> list[tuple[int, float]]:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=200)
        ) as session:
            return await asyncio.gather(*(_one(session, proxy.url, NEAR, i) for i in range(200)))

    results = asyncio.run(burst())
    statuses = [s for s, _ in results]
    assert set(statuses) <= {200, 429}, statuses
    costs = [c for s, c in results if s == 200]
    assert wait_for(drained(proxy.url), timeout=30)
    final = _spend(world["url"], NEAR)
    overshoot = final - NEAR_BUDGET
    one = max(costs)
    print(
        f"200 at once, {NEAR_BUDGET - NEAR_SPENT:.6f} USD left: {len(costs)} admitted, "
        f"{statuses.count(429)} x 429, final spend {final:.6f}, overshoot {overshoot:.6f} (one request {one:.6f})"
    )
    assert 0 < len(costs) < 200
    assert overshoot <= one + 1e-12
    assert final == pytest.approx(NEAR_SPENT + sum(costs), abs=1e-12)


def test_two_proxies_share_a_budget_and_reconciliation_shows_it(world: dict[str, Any]) -> None:
    proxies = world["proxies"]
    concurrency = 8

    async def hammer(url: str) -> list[tuple[int, float]]:
        out: list[tuple[int, float]] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

            async def worker(w: int) -> None:
                refused = 0
                for i in range(400):  # bounded: stops well before this once the budget is reached
                    status, cost = await _one(session, url, SHARED, w * 1000 + i)
                    out.append((status, cost))
                    refused = refused + 1 if status == 429 else 0
                    if refused >= 5:
                        return

            await asyncio.wait_for(asyncio.gather(*(worker(w) for w in range(concurrency))), 90)
        return out

    async def both() -> list[list[tuple[int, float]]]:
        return list(await asyncio.gather(*(hammer(p.url) for p in proxies)))

    per_proxy = asyncio.run(both())
    for p in proxies:
        assert wait_for(drained(p.url), timeout=30)
    results = [r for rs in per_proxy for r in rs]
    assert {s for s, _ in results} <= {200, 429}
    costs = [c for s, c in results if s == 200]
    final = _spend(world["url"], SHARED)
    overshoot = final - SHARED_BUDGET
    one = max(costs)
    # policy.py's bound, per process: the cost of its own requests in flight when the budget is reached
    # (concurrency x one), plus what the other process completes before this one sees it: its batch wait
    # (0.05 s) and this one's cache lifetime (TTL), with 0.25 s for the commit and the re-read, at the
    # other's fastest rate (concurrency / mock latency of 0.1 s). A proxy without reservations meets it too
    # (its extra overshoot is within the in-flight term): the single-process burst above is what tells.
    bound = 2 * (concurrency * one + (TTL + 0.05 + 0.25) * concurrency / 0.1 * one)
    print(
        f"two proxies, budget {SHARED_BUDGET}: {len(costs)} admitted "
        f"({[sum(1 for s, _ in rs if s == 200) for rs in per_proxy]} per proxy), final {final:.6f}, "
        f"overshoot {overshoot:.6f} = {overshoot / one:.1f} requests (bound {bound:.6f})"
    )
    assert final >= SHARED_BUDGET  # the budget was reached
    assert overshoot <= bound
    assert all(any(s == 200 for s, _ in rs) for rs in per_proxy)  # both proxies served

    lake = world["tmp"] / "lake"
    extract(world["url"], lake)
    result = reconcile(world["url"], lake)
    rows = {(r["entity_type"], r["entity_id"]): r for r in result.entities.to_dicts()}
    shared = rows[("key", sha(SHARED))]
    print({k: shared[k] for k in ("status", "ledger_spend", "recorded_spend", "drift", "max_budget")})
    assert shared["status"] == "exceeded"
    assert shared["ledger_spend"] == pytest.approx(final, abs=1e-9)
    assert shared["recorded_spend"] == pytest.approx(final, abs=1e-9)
    with psycopg.connect(world["url"]) as conn:
        logged = conn.execute(
            """SELECT sum(spend) FROM "LiteLLM_SpendLogs" WHERE api_key = %s""", (sha(SHARED),)
        ).fetchone()[0]
        assert shared["ledger_spend"] == pytest.approx(logged, abs=1e-9)
        assert spend_mismatches(conn) == []
