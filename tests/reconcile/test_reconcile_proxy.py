"""End to end: the proxy refuses a key, team, user or organization that reconciliation flagged, serves it
again once the flag is lifted, and holds windowed budgets to their current window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openai
import psycopg
import pytest

from llmusage.reconcile import reconcile, write_back
from support.proxy import mock_and_proxy, sha, wait_for

KEYS = {name: f"sk-e2e-{name}-{'0' * 20}" for name in ("key", "team", "user", "org", "windowed", "lifetime")}


def _setup(conn: psycopg.Connection, mock_url: str) -> None:
    x = conn.execute
    x("""INSERT INTO "LiteLLM_OrganizationTable" (organization_id) VALUES ('org-ok'), ('org-over')""")
    x("""INSERT INTO "LiteLLM_TeamTable" (team_id, organization_id) VALUES
         ('team-ok', 'org-ok'), ('team-over', 'org-ok'), ('team-of-org-over', 'org-over')""")
    x(
        """INSERT INTO "LiteLLM_UserTable" (user_id, organization_id) VALUES ('user-ok', 'org-ok'), ('user-over', 'org-ok')"""
    )
    owners = {
        "key": ("user-ok", "team-ok"), "team": ("user-ok", "team-over"), "user": ("user-over", "team-ok"),
        "org": ("user-ok", "team-of-org-over"), "windowed": ("user-ok", "team-ok"), "lifetime": ("user-ok", "team-ok"),
    }  # fmt: skip
    for name, (user, team) in owners.items():
        x(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id) VALUES (%s, %s, %s, %s)""",
            (sha(KEYS[name]), name, user, team),
        )
    params = {"model": "openai/up-chat", "api_base": mock_url, "api_key": "os.environ/MOCK_PROVIDER_KEY"}
    x(
        """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info) VALUES
           ('m-chat', 'chat', %s, '{"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}')""",
        (json.dumps(params),),
    )
    # Logged spend the spend columns never saw (drift): $5 on each of the four over-budget paths.
    now = datetime.now(UTC).replace(tzinfo=None)
    for i, name in enumerate(("key", "team", "user", "org")):
        user, team = owners[name]
        x(
            """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, "user", team_id, created_at)
               VALUES (%s, %s, 'chat', 5.0, %s, %s, %s)""",
            (f"drift-{i}", sha(KEYS[name]), user, team, now - timedelta(hours=1)),
        )
    x("""UPDATE "LiteLLM_VerificationToken" SET max_budget = 4 WHERE key_alias = 'key'""")
    x("""UPDATE "LiteLLM_TeamTable" SET max_budget = 4 WHERE team_id = 'team-over'""")
    x("""UPDATE "LiteLLM_UserTable" SET max_budget = 4 WHERE user_id = 'user-over'""")
    x("""UPDATE "LiteLLM_OrganizationTable" SET max_budget = 4 WHERE organization_id = 'org-over'""")
    # Two keys with $100 spent before this month and a $10 budget: one monthly, one lifetime.
    last_month = datetime(now.year, now.month, 1) - timedelta(days=3)
    for name in ("windowed", "lifetime"):
        x(
            """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, "user", team_id, created_at)
               VALUES (%s, %s, 'chat', 100.0, 'user-ok', 'team-ok', %s)""",
            (f"old-{name}", sha(KEYS[name]), last_month),
        )
        x(
            """UPDATE "LiteLLM_VerificationToken" SET spend = 100, max_budget = 10 WHERE key_alias = %s""",
            (name,),
        )
    x(
        """UPDATE "LiteLLM_VerificationToken" SET metadata = '{"budget_duration": "1mo"}' WHERE key_alias = 'windowed'"""
    )
    conn.commit()


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("e2e")
    with mock_and_proxy(database_url, tmp, _setup, "--cache-ttl", "0.3") as (_mock, proxy):
        yield {"proxy": proxy, "url": database_url, "lake": tmp / "home" / "lake"}


def _call(world: dict[str, Any], name: str) -> tuple[int, str | None]:
    client = openai.OpenAI(base_url=world["proxy"].url + "/v1", api_key=KEYS[name], max_retries=0, timeout=10)
    try:
        client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
        return 200, None
    except openai.APIStatusError as err:
        return err.status_code, err.response.json()["error"]["code"]


def _reconcile(world: dict[str, Any]) -> None:
    write_back(world["url"], reconcile(world["url"], Path(world["lake"])))


def test_windowed_budget_counts_the_current_window_only(world: dict[str, Any]) -> None:
    assert _call(world, "windowed") == (200, None)  # $100 last month, ~$0 this month, $10 a month
    assert _call(world, "lifetime") == (429, "budget_exceeded")  # $100 of a $10 lifetime budget
    # (reconciliation agrees, in test_flags_are_refused_then_lifted: it flags the lifetime key only)


def test_flags_are_refused_then_lifted(world: dict[str, Any]) -> None:
    try:
        names = ("key", "team", "user", "org")
        assert _call(world, "windowed") == (200, None)
        assert [_call(world, n)[0] for n in names] == [200] * 4  # the spend columns say they are under budget
        _reconcile(world)
        expected = {
            "key": "key_blocked",
            "team": "team_blocked",
            "user": "user_blocked",
            "org": "organization_blocked",
        }
        for name, _code in expected.items():  # refused within the cache's lifetime (0.3 s here)
            assert wait_for(lambda name=name: _call(world, name) == (403, expected[name]), timeout=10), name
        with psycopg.connect(world["url"]) as conn:  # budgets raised: reconciliation lifts its flags
            conn.execute(
                """UPDATE "LiteLLM_VerificationToken" SET max_budget = 100 WHERE key_alias = 'key'"""
            )
            conn.execute("""UPDATE "LiteLLM_TeamTable" SET max_budget = 100 WHERE team_id = 'team-over'""")
            conn.execute("""UPDATE "LiteLLM_UserTable" SET max_budget = 100 WHERE user_id = 'user-over'""")
            conn.execute(
                """UPDATE "LiteLLM_OrganizationTable" SET max_budget = 100 WHERE organization_id = 'org-over'"""
            )
        _reconcile(world)
        for name in names:
            assert wait_for(lambda name=name: _call(world, name)[0] == 200, timeout=10), name
        assert _call(world, "lifetime") == (
            403,
            "key_blocked",
        )  # still over its lifetime budget: still flagged
        assert _call(world, "windowed") == (200, None)
    finally:  # as `_setup` left it, for whichever test runs next: budgets of 4, no flag, no status
        with psycopg.connect(world["url"]) as conn:
            conn.execute("""UPDATE "LiteLLM_VerificationToken" SET max_budget = 4 WHERE key_alias = 'key'""")
            conn.execute("""UPDATE "LiteLLM_TeamTable" SET max_budget = 4 WHERE team_id = 'team-over'""")
            conn.execute("""UPDATE "LiteLLM_UserTable" SET max_budget = 4 WHERE user_id = 'user-over'""")
            conn.execute(
                """UPDATE "LiteLLM_OrganizationTable" SET max_budget = 4 WHERE organization_id = 'org-over'"""
            )
            conn.execute(
                """UPDATE "LiteLLM_VerificationToken" SET blocked = false, metadata = metadata - 'llmusage_block'"""
            )
            conn.execute(
                """UPDATE "LiteLLM_TeamTable" SET blocked = false, metadata = metadata - 'llmusage_block'"""
            )
            conn.execute(
                """UPDATE "LiteLLM_UserTable" SET user_metadata = user_metadata - 'llmusage_block'"""
            )
            conn.execute("""UPDATE "LiteLLM_OrganizationTable" SET metadata = metadata - 'llmusage_block'""")
            for table in ("budget_events", "budget_status", "alerts"):
                conn.execute(f"DELETE FROM llmusage.{table}")
        assert wait_for(lambda: _call(world, "lifetime") == (429, "budget_exceeded"), timeout=10)
