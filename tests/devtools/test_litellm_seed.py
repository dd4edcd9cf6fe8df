"""The LiteLLM-flavour seed: rows as LiteLLM 1.110 writes them, the stated verdicts, determinism, the CLI.

Everything is checked against the database itself (SQL over the seeded tables), not only against what the
seed says about itself."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from llmusage.devtools.scratch_db import drop_scratch_database
from llmusage.devtools.seed.litellm import LitellmScenario, seed_litellm
from llmusage.devtools.seed.litellm.periods import window_start
from llmusage.sources.detect import Flavour, detect
from support.db import create_database, run_cli

NOW = datetime(2026, 11, 18, 14, 30)  # a Wednesday, mid-month: every case's period is well under way
TOLERANCE = 1e-6

# The deliberate cases, stated literally: (kind, expected_status, LiteLLM refuses the next request).
EXPECTED = {
    "org_over_budget": ("organization", "exceeded", True),
    "org_within_budget": ("organization", "ok", False),
    "team_over_budget": ("team", "exceeded", True),
    "team_under_soft_budget": ("team", "ok", False),
    "team_over_soft_budget": ("team", "warning", False),
    "team_at_limit": ("team", "warning", False),  # spend == max_budget; LiteLLM's team check is '>'
    "key_budget_row": ("key", "warning", False),
    "key_reset_this_period": ("key", "ok", False),
    "key_retention": ("key", "exceeded", True),
    "user_personal_over": ("user", "exceeded", True),
    # LiteLLM checks a user's budget on personal keys only, but against a counter that also holds the
    # user's team-key spend (BerriAI/litellm#26239): his personal keys are refused.
    "user_team_keys_over": ("user", "exceeded", True),
    "member_over_budget": ("team_member", "exceeded", True),
    "member_within_budget": ("team_member", "ok", False),
    "end_user_over_budget": ("end_user", "exceeded", True),
    "end_user_within_budget": ("end_user", "ok", False),
    "tag_over_budget": ("tag", "exceeded", True),
    "tag_within_budget": ("tag", "ok", False),
}

COUNTER = {
    "key": 'SELECT spend FROM "LiteLLM_VerificationToken" WHERE token = %(id)s',
    "user": 'SELECT spend FROM "LiteLLM_UserTable" WHERE user_id = %(id)s',
    "team": 'SELECT spend FROM "LiteLLM_TeamTable" WHERE team_id = %(id)s',
    "organization": 'SELECT spend FROM "LiteLLM_OrganizationTable" WHERE organization_id = %(id)s',
    "end_user": 'SELECT spend FROM "LiteLLM_EndUserTable" WHERE user_id = %(id)s',
    "tag": 'SELECT spend FROM "LiteLLM_TagTable" WHERE tag_name = %(id)s',
    "team_member": "SELECT spend FROM \"LiteLLM_TeamMembership\" WHERE user_id || ':' || team_id = %(id)s",
}
CHARGED = {
    "key": "api_key = %(id)s",
    "user": '"user" = %(id)s',
    "team": "team_id = %(id)s",
    "organization": "organization_id = %(id)s",
    "end_user": "end_user = %(id)s",
    "tag": "request_tags ? %(id)s",
    "team_member": "\"user\" || ':' || team_id = %(id)s",
}


@pytest.fixture(scope="module")
def scenario(litellm_database_url: str) -> LitellmScenario:
    with psycopg.connect(litellm_database_url) as conn:
        return seed_litellm(conn, now=NOW, seed=7)


@pytest.fixture(scope="module")
def conn(scenario: LitellmScenario, litellm_database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(litellm_database_url, autocommit=True) as c:
        yield c


def _one(conn: psycopg.Connection, query: str, params: dict[str, object] | None = None) -> object:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def test_the_default_scenario_is_a_few_thousand_logs_and_fast(scenario: LitellmScenario) -> None:
    assert 2_000 <= scenario.logs <= 4_000 and scenario.deleted_logs > 500
    assert scenario.seconds < 3


def test_absent_ids_are_empty_strings_never_null(conn: psycopg.Connection) -> None:
    nulls = 'SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE team_id IS NULL OR "user" IS NULL OR organization_id IS NULL OR end_user IS NULL'  # fmt: skip
    assert _one(conn, nulls) == 0
    for column in ("team_id", "organization_id", "end_user"):
        assert _one(conn, f"SELECT count(*) FROM \"LiteLLM_SpendLogs\" WHERE {column} = ''") > 0


def test_tags_are_a_json_list_and_not_in_metadata(conn: psycopg.Connection) -> None:
    assert (
        _one(conn, """SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE jsonb_typeof(request_tags) <> 'array'""")
        == 0
    )
    assert _one(conn, """SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE metadata ? 'tags'""") == 0
    assert _one(conn, """SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE request_tags = '["customer-support", "env:prod"]'""") > 0  # fmt: skip
    alias = _one(conn, """SELECT metadata->>'user_api_key_alias' FROM "LiteLLM_SpendLogs" WHERE request_tags ? 'batch-jobs' LIMIT 1""")  # fmt: skip
    assert alias == "batch-runner"


def test_rows_older_than_the_upgrade_share_one_created_at(
    scenario: LitellmScenario, conn: psycopg.Connection
) -> None:
    before = "\"endTime\" < %(u)s - interval '1 minute'"
    stats = conn.execute(
        f'SELECT count(*), count(DISTINCT created_at), min(created_at), count(litellm_call_id) FROM "LiteLLM_SpendLogs" WHERE {before}',
        {"u": scenario.upgraded_at},
    ).fetchone()  # fmt: skip
    assert stats is not None and stats[0] > 100 and stats[1:] == (1, scenario.upgraded_at, 0)
    after = conn.execute(
        'SELECT min(created_at - "endTime"), max(created_at - "endTime"), count(*) - count(litellm_call_id) '
        'FROM "LiteLLM_SpendLogs" WHERE "startTime" > %(u)s',
        {"u": scenario.upgraded_at},
    ).fetchone()
    assert (
        after is not None and timedelta(0) < after[0] and after[1] < timedelta(seconds=10) and after[2] == 0
    )


def test_master_key_and_ui_calls(conn: psycopg.Connection) -> None:
    row = conn.execute(
        """SELECT count(*), min("user"), max("user"), max(team_id) FROM "LiteLLM_SpendLogs"
           WHERE api_key = 'litellm_proxy_master_key'"""
    ).fetchone()
    assert row is not None and row[0] > 0 and row[1:] == ("default_user_id", "default_user_id", "")
    assert _one(conn, """SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE team_id = 'litellm-dashboard'""") > 0


def test_failures_and_cache_hits_cost_nothing(conn: psycopg.Connection) -> None:
    failures = conn.execute(
        """SELECT count(*), max(spend), count(*) FILTER (WHERE metadata->>'status' <> 'failure')
           FROM "LiteLLM_SpendLogs" WHERE status = 'failure'"""
    ).fetchone()
    assert failures is not None and failures[0] > 0 and failures[1:] == (0.0, 0)
    hits = conn.execute(
        """SELECT count(*), max(spend), min(prompt_tokens), count(*) FILTER (WHERE request_id NOT LIKE '%%_cache_hit%%')
           FROM "LiteLLM_SpendLogs" WHERE cache_hit = 'True'"""
    ).fetchone()
    assert hits is not None and hits[0] > 0 and hits[1] == 0.0 and hits[2] > 0 and hits[3] == 0
    assert (
        _one(conn, """SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE cache_hit NOT IN ('True', 'False')""")
        == 0
    )
    assert _one(conn, """SELECT count(DISTINCT call_type) FROM "LiteLLM_SpendLogs" """) >= 4


def test_bodies_only_while_prompts_were_stored(scenario: LitellmScenario, conn: psycopg.Connection) -> None:
    since, until = scenario.store_prompts
    row = conn.execute(
        """SELECT count(*), min("startTime"), max("startTime") FROM "LiteLLM_SpendLogs"
           WHERE proxy_server_request <> '{}' AND response <> '{}'"""
    ).fetchone()
    assert row is not None and row[0] > 0 and since <= row[1] and row[2] < until
    assert _one(conn, """SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE messages <> '{}'""") == 0
    assert _one(conn, """SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE (proxy_server_request = '{}') <> (response = '{}')""") == 0  # fmt: skip


def test_retention_and_unlogged_failures(scenario: LitellmScenario, conn: psycopg.Connection) -> None:
    assert _one(conn, 'SELECT min("startTime") FROM "LiteLLM_SpendLogs"') >= scenario.retention_cutoff  # type: ignore[operator]
    since, until = scenario.disable_error_logs
    window = conn.execute(
        """SELECT count(*) FILTER (WHERE status = 'failure'), count(*) FROM "LiteLLM_SpendLogs"
           WHERE "startTime" >= %s AND "startTime" < %s""",
        (since, until),
    ).fetchone()
    assert window is not None and window[0] == 0 and window[1] > 0 and scenario.unlogged_failures > 0


def test_every_counter_is_the_recorded_spend_and_the_ledger_is_the_logs(
    scenario: LitellmScenario, conn: psycopg.Connection
) -> None:
    for v in scenario.verdicts:
        params = {"id": v.id, "since": v.period_start or datetime(1900, 1, 1), "now": scenario.now}
        assert _one(conn, COUNTER[v.kind], params) == pytest.approx(v.recorded_spend, abs=TOLERANCE), v
        ledger = _one(
            conn,
            f'SELECT coalesce(sum(spend), 0) FROM "LiteLLM_SpendLogs" WHERE {CHARGED[v.kind]} '
            'AND "startTime" >= %(since)s AND "startTime" <= %(now)s',
            params,
        )
        assert ledger == pytest.approx(v.ledger_spend, abs=TOLERANCE), v
        assert v.recorded_spend == pytest.approx(v.ledger_spend + sum(v.gaps.values()), abs=TOLERANCE), v


def test_periods_are_anchored_as_litellm_anchors_them(
    scenario: LitellmScenario, conn: psycopg.Connection
) -> None:
    monthly = [v for v in scenario.verdicts if v.duration == "30d"]
    assert monthly and all(
        v.period_start == datetime(2026, 11, 1) and v.period_end == datetime(2026, 12, 1) for v in monthly
    )
    weekly = scenario.case("key_budget_row")
    assert (weekly.duration, weekly.period_start, weekly.period_end) == ("7d", datetime(2026, 11, 16), datetime(2026, 11, 23))  # fmt: skip
    for v in scenario.verdicts:
        if v.duration:
            assert v.period_start == window_start(v.duration, v.period_end)  # type: ignore[arg-type]
    stored = conn.execute(
        """SELECT k.budget_reset_at, b.budget_reset_at, k.max_budget, b.max_budget FROM "LiteLLM_VerificationToken" k
           JOIN "LiteLLM_BudgetTable" b USING (budget_id) WHERE k.key_alias = 'ci-pipeline'"""
    ).fetchone()
    assert stored == (None, datetime(2026, 11, 23), None, 10.0)


def test_expected_verdicts_entity_by_entity(scenario: LitellmScenario) -> None:
    stated = {v.case: (v.kind, v.expected_status, v.litellm_refuses) for v in scenario.verdicts if v.case}
    assert stated == EXPECTED
    background = [v for v in scenario.verdicts if v.case is None]
    assert background and not any(v.litellm_refuses for v in background)


def test_the_cases_hold_for_the_stated_reasons(scenario: LitellmScenario, conn: psycopg.Connection) -> None:
    at_limit = scenario.case("team_at_limit")
    assert at_limit.recorded_spend == at_limit.max_budget == 8.0 and at_limit.comparison == ">"
    reset = scenario.case("key_reset_this_period")
    assert reset.recorded_spend < reset.max_budget < reset.lifetime_spend  # type: ignore[operator]
    total = _one(
        conn, """SELECT total_spend FROM "LiteLLM_VerificationToken" WHERE key_alias = 'nightly-eval'"""
    )
    assert total == pytest.approx(reset.lifetime_spend)
    retention = scenario.case("key_retention")
    assert (
        retention.duration is None
        and retention.ledger_spend < retention.max_budget <= retention.recorded_spend
    )  # type: ignore[operator]
    assert set(retention.gaps) == {"retention"}
    ravi = scenario.case("user_team_keys_over")
    personal = _one(
        conn,
        """SELECT sum(l.spend) FROM "LiteLLM_SpendLogs" l JOIN "LiteLLM_VerificationToken" k ON k.token = l.api_key
           WHERE k.user_id = %(id)s AND k.team_id IS NULL AND l."startTime" >= %(since)s""",
        {"id": ravi.id, "since": ravi.period_start},
    )
    assert personal < ravi.max_budget <= ravi.recorded_spend  # type: ignore[operator]
    assert scenario.refused["ravi-laptop"] > 0 and scenario.refused["search-api"] > 0
    org = _one(conn, """SELECT b.max_budget FROM "LiteLLM_OrganizationTable" o JOIN "LiteLLM_BudgetTable" b USING (budget_id) WHERE organization_alias = 'acme-research'""")  # fmt: skip
    assert org == 60.0


def _daily_and_logs(conn: psycopg.Connection, table: str) -> tuple[float, int, float, int]:
    column = {"LiteLLM_DailyTagSpend": "tag", "LiteLLM_DailyOrganizationSpend": "organization_id",
              "LiteLLM_DailyEndUserSpend": "end_user_id"}.get(table)  # fmt: skip
    daily = conn.execute(f'SELECT sum(spend), sum(api_requests) FROM "{table}"').fetchone()
    where = {
        "tag": "jsonb_array_length(request_tags) > 0",
        "organization_id": "organization_id <> ''",
        "end_user_id": "end_user <> ''",
    }.get(column or "", "true")
    logs = conn.execute(f'SELECT sum(spend), count(*) FROM "LiteLLM_SpendLogs" WHERE {where}').fetchone()
    assert daily is not None and logs is not None
    return float(daily[0]), int(daily[1]), float(logs[0]), int(logs[1])


def test_daily_tables_differ_from_the_logs_exactly_by_the_stated_causes(
    scenario: LitellmScenario, conn: psycopg.Connection
) -> None:
    spend = {g.table: set(g.spend_causes) for g in scenario.daily_gaps}
    assert spend == {
        "LiteLLM_DailyUserSpend": {"retention"},
        "LiteLLM_DailyTeamSpend": {"retention"},
        "LiteLLM_DailyOrganizationSpend": {"retention"},
        "LiteLLM_DailyEndUserSpend": {"retention"},
        "LiteLLM_DailyTagSpend": {"retention", "tag_fan_out"},
    }
    requests = {g.table: set(g.request_causes) for g in scenario.daily_gaps}
    assert (
        requests["LiteLLM_DailyUserSpend"]
        == requests["LiteLLM_DailyTeamSpend"]
        == {"retention", "unlogged_failures"}
    )
    assert requests["LiteLLM_DailyTagSpend"] == {"retention", "unlogged_failures", "tag_fan_out"}
    for gap in scenario.daily_gaps:
        daily_spend, daily_requests, logs_spend, logs_requests = _daily_and_logs(conn, gap.table)
        assert daily_spend - logs_spend == pytest.approx(sum(gap.spend_causes.values()), abs=TOLERANCE), gap
        assert daily_requests - logs_requests == sum(gap.request_causes.values()), gap
    empty_ids = _one(conn, """SELECT count(*) FROM "LiteLLM_DailyTeamSpend" WHERE team_id = '' AND mcp_namespaced_tool_name = ''""")  # fmt: skip
    assert empty_ids > 0


def test_same_seed_same_rows(
    scenario: LitellmScenario, server_url: str, litellm_template_name: str, conn: psycopg.Connection
) -> None:
    digest = """SELECT md5(string_agg(request_id || spend::text || "startTime"::text || metadata::text, ',' ORDER BY request_id))
                FROM "LiteLLM_SpendLogs" """  # fmt: skip
    url = create_database(server_url, litellm_template_name, "litellm_seed_again")
    try:
        with psycopg.connect(url, autocommit=True) as other:
            again = seed_litellm(other, now=NOW, seed=7)
            assert _one(other, digest) == _one(conn, digest)
        strip = [
            (v.kind, v.id, v.recorded_spend, v.ledger_spend, v.expected_status) for v in scenario.verdicts
        ]
        assert [
            (v.kind, v.id, v.recorded_spend, v.ledger_spend, v.expected_status) for v in again.verdicts
        ] == strip
    finally:
        drop_scratch_database(server_url, url)


def _env(url: str, home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    return {**env, "LLMUSAGE_DATABASE_URL": url, "LLMUSAGE_HOME": home}


def test_cli_refuses_an_llmusage_database(database_url: str, tmp_path: Path) -> None:
    result = run_cli("seed", "--flavour", "litellm", env=_env(database_url, str(tmp_path)))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "llmusage-flavour database" in result.stderr


def test_cli_builds_and_fills_an_empty_database(empty_database_url: str, tmp_path: Path) -> None:
    env = _env(empty_database_url, str(tmp_path))
    result = run_cli("seed", "--flavour", "litellm", "--end", "2026-11-18T14:30", "--logs", "3000", env=env)
    assert result.returncode == 0, result.stderr
    assert "built LiteLLM's schema" in result.stdout and "LiteLLM refuses 8" in result.stdout
    with psycopg.connect(empty_database_url) as c:
        assert detect(c).flavour is Flavour.LITELLM
        assert _one(c, 'SELECT count(*) FROM "LiteLLM_SpendLogs"') > 2_000
    again = run_cli("seed", "--flavour", "litellm", env=env)
    assert again.returncode != 0 and "pass --reset" in again.stderr
    reset = run_cli("seed", "--flavour", "litellm", "--reset", "--end", "2026-11-18T14:30", env=env)
    assert reset.returncode == 0, reset.stderr
