"""Alerts on a LiteLLM database (LiteLLM's own migrations): keys, teams and LiteLLM's budget-only kinds (end
users, tags) alert alike; a key over budget is blocked in LiteLLM's column and its alert says so; the soft
budget alerts; a tag over its budget (LiteLLM refuses it, llmusage does not write it back) says `none`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from llmusage.alerts.dispatch import after_write_back
from llmusage.alerts.policy import AlertPolicy, Retry
from llmusage.pg.migrations import migrate
from llmusage.reconcile import ReconcileOptions, reconcile, write_back
from support.webhook import Receiver

NOW = datetime.utcnow().replace(microsecond=0)
TOKEN = hashlib.sha256(b"sk-test-k-1").hexdigest()
OTHER = hashlib.sha256(b"sk-test-k-2").hexdigest()


@pytest.fixture(scope="module")
def litellm_db(litellm_database_url: str) -> str:
    with psycopg.connect(litellm_database_url) as conn:
        for budget_id, budget in (("b-eu", 10.0), ("b-tag", 5.0)):
            conn.execute(
                """INSERT INTO "LiteLLM_BudgetTable" (budget_id, max_budget, created_by, updated_by)
                   VALUES (%s, %s, 'admin', 'admin')""",
                (budget_id, budget),
            )
        conn.execute(
            """INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, max_budget, soft_budget, spend)
               VALUES ('t-1', 'search', 100, 20, 60)"""
        )
        for token, alias, budget, spend in (
            (TOKEN, "search-prod", 5.0, 6.0),
            (OTHER, "search-batch", None, 54.0),
        ):
            conn.execute(
                """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, team_id, max_budget, spend, total_spend,
                       created_at) VALUES (%s, %s, 't-1', %s, %s, %s, %s)""",
                (token, alias, budget, spend, spend, NOW - timedelta(days=40)),
            )
        conn.execute(
            """INSERT INTO "LiteLLM_EndUserTable" (user_id, alias, spend, budget_id, blocked)
               VALUES ('eu-1', 'acme', 6, 'b-eu', false)"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_TagTable" (tag_name, models, spend, budget_id, created_at, created_by, updated_at)
               VALUES ('prod', '{}', 6, 'b-tag', %s, 'admin', %s)""",
            (NOW - timedelta(days=40), NOW - timedelta(days=40)),
        )
        for rid, token, spend, end_user, tags in (
            ("r1", TOKEN, 6.0, "eu-1", '["prod"]'),
            ("r2", OTHER, 54.0, "", "[]"),
        ):
            at = NOW - timedelta(days=1)
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens,
                       completion_tokens, "startTime", "endTime", model, model_group, custom_llm_provider, "user",
                       team_id, organization_id, metadata, cache_hit, request_tags, status, end_user)
                   VALUES (%s, 'acompletion', %s, %s, 30, 20, 10, %s, %s, 'azure/gpt-4o-eu', 'gpt-4o', 'azure', '',
                           't-1', '', '{}', 'False', %s, 'success', %s)""",
                (rid, token, spend, at, at + timedelta(seconds=2), tags, end_user),
            )
    with psycopg.connect(litellm_database_url, autocommit=True) as conn:
        migrate(conn)
    return litellm_database_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def test_litellm_kinds_alert_with_their_action(litellm_db: str, tmp_path: Path, receiver: Receiver) -> None:
    policy = AlertPolicy((receiver.url,), retry=Retry(backoff=0.01, timeout=2.0))
    for _ in range(2):
        result = reconcile(litellm_db, tmp_path / "lake", ReconcileOptions())
        write_back(litellm_db, result, alerts=policy)
        after_write_back(litellm_db, tmp_path / "lake", result.entities, policy)
    got = {(m["entity_type"], m["entity_id"]): m for m in receiver.take()}
    assert set(got) == {("key", TOKEN), ("team", "t-1"), ("end_user", "eu-1"), ("tag", "prod")}
    key = got[("key", TOKEN)]
    assert key["threshold"] == "100%" and key["action"] == "blocked"
    assert key["text"].startswith(f":rotating_light: key search-prod ({TOKEN[:8]}…) crossed 100%")
    with psycopg.connect(litellm_db) as conn:
        assert conn.execute(
            'SELECT blocked FROM "LiteLLM_VerificationToken" WHERE token = %s', (TOKEN,)
        ).fetchone() == (True,)
    team = got[("team", "t-1")]  # $60 of $100, soft budget $20: one message for both
    assert team["threshold"] == "50%" and team["thresholds"] == ["soft_budget", "50%"]
    assert team["action"] == "none"
    assert got[("end_user", "eu-1")]["threshold"] == "50%"
    tag = got[("tag", "prod")]
    assert (
        tag["threshold"] == "100%"
        and tag["action"] == "none"
        and tag["thresholds"] == ["50%", "80%", "95%", "100%"]
    )
