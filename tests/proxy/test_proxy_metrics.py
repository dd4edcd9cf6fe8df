"""`GET /metrics`: parsed with prometheus-client's parser after real traffic (the official `openai` client, a
running proxy and mock-upstream, this module's PostgreSQL database), compared with the spend logs written;
the merge of several workers' snapshots and the label rules as plain functions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llmusage.proxy.metrics import Histogram, ProxyMetrics
from llmusage.proxy.prometheus import FLUSH_SECONDS, entity_labels, merge
from support.proxy import http, mock_and_proxy, proxy_env, sha, start_proxy, wait_for

IN, OUT = 1e-6, 2e-6
CAP = 6
KEYS = {
    "budgeted": "sk-metrics-budgeted-00000000",
    "open": "sk-metrics-open-000000000000",
    "broke": "sk-metrics-broke-00000000000",
}
NAMELESS = [f"sk-metrics-nameless-{i:08d}" for i in range(12)]


def _setup(conn: psycopg.Connection, mock_url: str) -> None:
    x = conn.execute
    x("""INSERT INTO "LiteLLM_OrganizationTable" (organization_id, max_budget) VALUES ('org-m', 100)""")
    x("""INSERT INTO "LiteLLM_TeamTable" (team_id, organization_id, max_budget) VALUES
         ('team-m', 'org-m', 50), ('team-n', NULL, NULL)""")
    x("""INSERT INTO "LiteLLM_UserTable" (user_id, user_role, max_budget) VALUES ('mu', 'user', 20)""")
    keys = [
        (sha(KEYS["budgeted"]), "budgeted", "mu", "team-m", 1.0),
        (sha(KEYS["open"]), "open", None, "team-n", None),
        (sha(KEYS["broke"]), "broke", None, "team-n", 0.0),
    ]
    keys += [(sha(raw), None, None, "team-n", 10.0) for raw in NAMELESS]
    for token, alias, user, team, budget in keys:
        x(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, max_budget)
               VALUES (%s, %s, %s, %s, %s)""",
            (token, alias, user, team, budget),
        )
    for name, out in (("chat", OUT), ("chat-b", OUT / 4)):
        params = {
            "model": f"openai/up-{name}",
            "api_base": mock_url,
            "api_key": "os.environ/MOCK_PROVIDER_KEY",
        }
        x(
            """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
               VALUES (%s, %s, %s, %s)""",
            (f"m-{name}", name, json.dumps(params), json.dumps({"input_cost_per_token": IN, "output_cost_per_token": out})),
        )  # fmt: skip
    conn.commit()


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("metrics")
    args = ("--cache-ttl", "0.3", "--metrics-max-series", str(CAP))
    with mock_and_proxy(database_url, tmp, _setup, *args) as (mock, proxy):
        yield {"proxy": proxy, "mock": mock, "db": database_url, "tmp": tmp}


def client(world: dict[str, Any], key: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=world["proxy"].url + "/v1", api_key=KEYS.get(key, key), max_retries=0, timeout=20
    )


def chat(world: dict[str, Any], key: str, model: str = "chat", **kw: Any) -> None:
    client(world, key).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "one two three"}], max_tokens=5, **kw
    )


def scrape(url: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """family name -> [(sample name, labels, value)], from the text format parser."""
    status, headers, body = http("GET", url + "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    return {
        f.name: [(s.name, s.labels, s.value) for s in f.samples]
        for f in text_string_to_metric_families(body.decode())
    }


def requests_by(families: dict[str, Any]) -> dict[tuple[str, str], float]:
    return {(lab["model"], lab["status"]): v for _, lab, v in families["llmusage_proxy_requests"]}


def drained(world: dict[str, Any]) -> None:
    def empty() -> bool:
        status, _, body = http("GET", world["proxy"].url + "/health/ready")
        return status == 200 and json.loads(body)["spool"]["depth"] == 0

    assert wait_for(empty)


def test_requests_are_counted_by_model_and_status(world: dict[str, Any]) -> None:
    before = requests_by(scrape(world["proxy"].url))
    for _ in range(4):
        chat(world, "budgeted")
    for _ in range(3):
        chat(world, "open", "chat-b")
    list(client(world, "open").chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "s"}], max_tokens=3, stream=True
    ))  # fmt: skip
    refusals = {"broke": 429, "sk-metrics-unknown": 401}
    for key, status in refusals.items():
        with pytest.raises(openai.APIStatusError) as info:
            chat(world, key)
        assert info.value.status_code == status
    with pytest.raises(openai.NotFoundError):
        chat(world, "open", "not-in-the-catalog")
    with pytest.raises(openai.APIStatusError):
        chat(world, "open", extra_body={"mock_status": 500})  # 502, forwarded and logged

    families = scrape(world["proxy"].url)
    after = requests_by(families)
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    # 429: the model is known; 401: refused before the body is read; 404: a name not in the catalog.
    assert delta == {
        ("chat", "200"): 5,
        ("chat-b", "200"): 3,
        ("chat", "429"): 1,
        ("", "401"): 1,
        ("unknown", "404"): 1,
        ("chat", "502"): 1,
    }
    added = {name: v for name, lab, v in families["llmusage_proxy_added_latency_seconds"] if not lab}
    assert added["llmusage_proxy_added_latency_seconds_count"] >= 9
    assert added["llmusage_proxy_added_latency_seconds_sum"] > 0
    upstream = {
        (name, lab.get("model"), lab.get("le")): v
        for name, lab, v in families["llmusage_proxy_upstream_latency_seconds"]
    }
    assert upstream[("llmusage_proxy_upstream_latency_seconds_count", "chat-b", None)] >= 3
    assert upstream[("llmusage_proxy_upstream_latency_seconds_bucket", "chat-b", "+Inf")] >= 3


def test_spend_counter_equals_the_spend_logs_written(world: dict[str, Any]) -> None:
    threads = [threading.Thread(target=chat, args=(world, "open", "chat-b")) for _ in range(8)]
    for t in threads:
        t.start()
    chat(world, "budgeted", "chat-b")
    for t in threads:
        t.join()
    drained(world)
    families = scrape(world["proxy"].url)
    metric = {
        (lab["team"], lab["model"]): v
        for name, lab, v in families["llmusage_proxy_spend_usd"]
        if name == "llmusage_proxy_spend_usd_total"
    }
    with psycopg.connect(world["db"]) as conn:
        rows = conn.execute(
            """SELECT COALESCE(team_id, ''), model, SUM(spend) FROM "LiteLLM_SpendLogs" GROUP BY 1, 2"""
        ).fetchall()
        count = conn.execute("""SELECT count(*) FROM "LiteLLM_SpendLogs" """).fetchone()
    logged = {(team, model): float(spend) for team, model, spend in rows}
    assert set(metric) == set(logged) and len(logged) >= 3
    for pair, spend in logged.items():
        assert metric[pair] == pytest.approx(spend, abs=1e-9), pair
    written = families["llmusage_proxy_spend_logs_written"][0][2]
    assert count is not None and written == count[0]
    depth = families["llmusage_proxy_spool_depth_rows"][0][2]
    assert depth == 0
    batches = {name: v for name, _, v in families["llmusage_proxy_batch_write_seconds"]}
    assert batches["llmusage_proxy_batch_write_seconds_count"] >= 1


def test_remaining_budget_is_max_budget_minus_spend(world: dict[str, Any]) -> None:
    chat(world, "budgeted")
    drained(world)
    with psycopg.connect(world["db"]) as conn:
        key = conn.execute(
            """SELECT max_budget, spend FROM "LiteLLM_VerificationToken" WHERE token = %s""",
            (sha(KEYS["budgeted"]),),
        ).fetchone()
        user = conn.execute(
            """SELECT max_budget, spend FROM "LiteLLM_UserTable" WHERE user_id = 'mu'"""
        ).fetchone()
        team = conn.execute(
            """SELECT max_budget, spend FROM "LiteLLM_TeamTable" WHERE team_id = 'team-m'"""
        ).fetchone()
    assert key is not None and user is not None and team is not None and key[1] > 0
    families = scrape(world["proxy"].url)
    remaining = {
        (lab["kind"], lab["entity"]): v for _, lab, v in families["llmusage_proxy_budget_remaining_usd"]
    }
    maximum = {(lab["kind"], lab["entity"]): v for _, lab, v in families["llmusage_proxy_budget_max_usd"]}
    assert remaining[("key", "budgeted")] == pytest.approx(key[0] - key[1], abs=1e-9)  # by alias
    assert maximum[("key", "budgeted")] == 1.0
    assert remaining[("user", "mu")] == pytest.approx(user[0] - user[1], abs=1e-9)
    assert remaining[("team", "team-m")] == pytest.approx(team[0] - team[1], abs=1e-9)
    assert ("team", "team-n") not in remaining  # no budget, no gauge
    assert remaining[("key", "broke")] == 0.0  # a 0 budget: refused, nothing left


def test_label_sets_are_capped(world: dict[str, Any]) -> None:
    for raw in NAMELESS:
        chat(world, raw, "chat-b")
    families = scrape(world["proxy"].url)
    budget_series = families["llmusage_proxy_budget_remaining_usd"]
    assert len(budget_series) == CAP
    assert families["llmusage_proxy_budget_entities_not_exported"][0][2] >= len(NAMELESS) - CAP
    nameless = {sha(raw)[:12] for raw in NAMELESS}
    labels = {lab["entity"] for _, lab, _ in budget_series if lab["kind"] == "key"}
    assert labels - {"budgeted", "broke"} <= nameless  # keys without an alias: a digest prefix only
    assert not any(len(lab["entity"]) > 12 for _, lab, _ in budget_series if lab["kind"] == "key")
    # Model and status labels stay within the catalog and the statuses answered.
    models = {lab["model"] for _, lab, _ in families["llmusage_proxy_requests"]}
    assert models <= {"chat", "chat-b", "unknown", ""}


def test_several_workers_show_one_merged_view(world: dict[str, Any]) -> None:
    """With --workers 2 whichever worker is scraped shows the sum of both, once their snapshots (written
    every second) are fresh."""
    env = proxy_env(world["db"], world["tmp"] / "home-w2")
    proxy = start_proxy(world["tmp"], env, "--workers", "2", "--cache-ttl", "0.3")
    try:
        assert wait_for(lambda: scrape(proxy.url)["llmusage_proxy_workers"][0][2] == 2)
        n = 30
        for _ in range(n):  # a new connection each: SO_REUSEPORT spreads them over the workers
            status, _, _ = http(
                "POST",
                proxy.url + "/v1/chat/completions",
                {"model": "chat-b", "messages": [{"role": "user", "content": "w"}], "max_tokens": 1},
                {"Authorization": f"Bearer {KEYS['open']}", "Content-Type": "application/json"},
            )
            assert status == 200
        time.sleep(FLUSH_SECONDS * 1.5)
        for _ in range(6):  # whichever worker answers, the same totals
            assert requests_by(scrape(proxy.url)).get(("chat-b", "200")) == n
        per_worker = [
            sum(r[2] for r in json.loads(f.read_bytes())["requests"])
            for f in (world["tmp"] / "home-w2" / "metrics").glob("run-*/*.json")
        ]
        assert len(per_worker) == 2 and all(per_worker) and sum(per_worker) == n  # both served some
    finally:
        proxy.stop()
    assert proxy.proc.returncode == 0
    assert not list((world["tmp"] / "home-w2" / "metrics").glob("run-*"))  # removed on exit


def test_no_metrics_turns_the_route_off(world: dict[str, Any]) -> None:
    env = proxy_env(world["db"], world["tmp"] / "home-off")
    proxy = start_proxy(world["tmp"], env, "--no-metrics")
    try:
        status, _, body = http("GET", proxy.url + "/metrics")
        assert status == 404 and json.loads(body)["error"]["code"] == "route_not_found"
        client(world, "open").with_options(base_url=proxy.url + "/v1").chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )
    finally:
        proxy.stop()


def test_spend_pairs_past_the_cap_fold_into_other() -> None:
    m = ProxyMetrics(max_series=2)
    for team in ("a", "b", "c", "d"):
        m.spent(team, "m", 0.5)
    m.spent("a", "m", 0.25)
    m.spent(None, "m", 1.0)
    assert m.spend == {("a", "m"): 0.75, ("b", "m"): 0.5, ("_other", "m"): 2.0}


def _snap(pid: int, live: bool, requests: list[Any], budgets: list[Any], depth: int) -> dict[str, Any]:
    hist = Histogram((0.1, 1.0))
    hist.observe(0.05)
    return {
        "pid": pid,
        "live": live,
        "requests": requests,
        "added": hist.snapshot(),
        "upstream": {"m": hist.snapshot()},
        "batch": hist.snapshot(),
        "spend": [["t", "m", 0.25]],
        "budgets": budgets,
        "not_exported": 0,
        "spool_rows": depth,
        "spool_bytes": depth * 100,
        "written": 3,
    }


def test_merge_sums_counters_and_keeps_live_gauges() -> None:
    a = _snap(1, True, [["m", 200, 2]], [["key", "k" * 64, "a", 5.0, 4.0]], depth=1)
    b = _snap(2, True, [["m", 200, 3], ["m", 429, 1]], [["key", "k" * 64, "a", 5.0, 3.5]], depth=2)
    dead = _snap(3, False, [["m", 200, 10]], [["user", "u", None, 1.0, 0.5]], depth=7)
    view = merge([a, b, dead], max_series=10)
    assert sorted(view["requests"]) == [["m", 200, 15], ["m", 429, 1]]
    assert view["spend"] == [["t", "m", 0.75]] and view["written"] == 9
    assert view["added"]["counts"] == [3, 0, 0] and view["upstream"]["m"]["sum"] == pytest.approx(0.15)
    assert view["spool_rows"] == 3 and view["workers"] == 2  # the dead worker's gauges are gone
    assert view["budgets"] == [["key", "k" * 64, "a", 5.0, 3.5]]  # the lowest remaining seen

    many = [["key", f"{i:064d}", None, 1.0, float(i)] for i in range(5)]
    view = merge([_snap(1, True, [], many, 0)], max_series=2)
    assert [b[4] for b in view["budgets"]] == [0.0, 1.0] and view["not_exported"] == 3


def test_keys_sharing_an_alias_get_distinct_labels() -> None:
    budgets = [
        ["key", "a" * 64, "prod", 1.0, 0.5],
        ["key", "b" * 64, "prod", 1.0, 0.25],
        ["key", "c" * 64, None, 1.0, 1.0],
        ["team", "team-1", None, 9.0, 9.0],
    ]
    names = {name for _, name, _, _ in entity_labels(budgets)}
    assert names == {f"prod~{'a' * 12}", f"prod~{'b' * 12}", "c" * 12, "team-1"}
