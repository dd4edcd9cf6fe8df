"""Alerts from the Dagster graph, the same code as the command line's: a failed quality suite alerts once
(and keeps the budgets unwritten), then, the data fixed, the budgets job sends the crossings that
budget_flags recorded through budget_alerts, and a re-run sends nothing new."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from support.webhook import Receiver

warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)")

from pipelines.materialize import materialize_range  # noqa: E402
from pipelines.resources import LakeResource, PostgresResource  # noqa: E402

DAY = date(2026, 5, 3)


@pytest.fixture(scope="module")
def db(database_url: str) -> str:
    """key-1 ($10, lifetime) spent $8.50 on 2026-05-03 in two requests priced at $0.25 a token; the second has
    negative tokens."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
               VALUES ('m-1', 'gpt-4o', '{"model": "openai/gpt-4o"}',
                       '{"input_cost_per_token": 0.25, "output_cost_per_token": 0.25}')"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, max_budget, spend, created_at)
               VALUES ('key-1', 'search-prod', 10, 8.5, '2026-04-01')"""
        )
        for n, (spend, tokens) in enumerate(((5.0, 10), (3.5, -5))):
            at = datetime.combine(DAY, datetime.min.time()) + timedelta(hours=9 + n)
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, api_provider, spend, prompt_tokens,
                       completion_tokens, total_tokens, created_at)
                   VALUES (%s, 'key-1', 'gpt-4o', 'openai', %s, %s, 10, %s, %s)""",
                (f"req-{n}", spend, tokens, tokens + 10, at),
            )
    return database_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def test_quality_then_budget_alerts_from_the_graph(db: str, tmp_path: Path, receiver: Receiver) -> None:
    resources = {
        "postgres": PostgresResource(database_url=db, alert_webhooks=receiver.url),
        "lake": LakeResource(home=str(tmp_path)),
    }
    instance = dg.DagsterInstance.ephemeral()
    failed = materialize_range(DAY, DAY, instance, resources)
    assert not failed.success
    [quality] = receiver.take()
    assert quality["kind"] == "quality_check" and quality["period_start"] == "2026-05-03"
    assert any(f["column"] == "prompt_tokens" for f in quality["failures"])

    with psycopg.connect(db) as conn:
        conn.execute(
            "UPDATE \"LiteLLM_SpendLogs\" SET prompt_tokens = 4, total_tokens = 14 WHERE request_id = 'req-1'"
        )
    fixed = materialize_range(DAY, DAY, instance, resources)
    assert fixed.success
    [budget] = receiver.take()
    assert budget["kind"] == "budget_threshold" and budget["thresholds"] == ["50%", "80%"]
    assert budget["entity_id"] == "key-1" and budget["ledger"] == pytest.approx(8.5)
    alerts = next(
        e.materialization
        for e in fixed.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("budget_alerts")
    )
    assert alerts.metadata["delivered"].value == 2 and alerts.metadata["pending"].value == 0

    assert materialize_range(DAY, DAY, instance, resources).success
    assert receiver.take() == []
