"""`llmusage chargeback` on LiteLLM's realistic scenario (a database built by LiteLLM's migrations, filled as
LiteLLM 1.110 writes it), run as a user runs it: `llmusage extract`, then `llmusage chargeback --month`.

What finance checks against PostgreSQL itself: each month's statement adds up to the spend of the logs that
survived retention and whose request (`"startTime"`, not the write time `created_at`) falls in the month; each
organization is charged what its logs carry in `organization_id`, each team what they carry in `team_id`; an
absent id (LiteLLM writes '') is never a sub-account nor a user of its own; failed requests and cache hits are
counted apart from the requests, their cost included.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import psycopg
import pytest

from llmusage.devtools.seed.litellm import LitellmScenario, seed_litellm
from llmusage.reports.chargeback import CENT
from support.db import cli_env_for, run_cli
from support.focus_rules import check_statement

NOW = datetime(2026, 11, 18, 14, 30)
MONTHS = ("2026-10", "2026-11")  # retention keeps 30 days: the end of October and November so far


@pytest.fixture(scope="module")
def scenario(litellm_database_url: str) -> LitellmScenario:
    with psycopg.connect(litellm_database_url) as conn:
        return seed_litellm(conn, now=NOW, seed=5)


@pytest.fixture(scope="module")
def env(
    scenario: LitellmScenario, litellm_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    env = cli_env_for(litellm_database_url, tmp_path_factory.mktemp("home"))
    done = run_cli("extract", env=env)
    assert done.returncode == 0, done.stderr
    return env


def _pg(url: str, query: str, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def _month(month: str) -> dict[str, str]:
    start = datetime.strptime(month, "%Y-%m")
    end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return {"start": start, "end": end}


def _by(url: str, column: str, month: str) -> dict[str, tuple[Decimal, int, int, int]]:
    """Per sub-account of the month, from LiteLLM's own table: (cost to 12 places, requests, failed, cached)."""
    query = f"""
        SELECT NULLIF({column}, ''),
               sum(round(spend::numeric, 12)),
               count(*) FILTER (WHERE COALESCE(status, 'success') <> 'failure' AND cache_hit IS DISTINCT FROM 'True'),
               count(*) FILTER (WHERE status = 'failure'),
               count(*) FILTER (WHERE COALESCE(status, 'success') <> 'failure' AND cache_hit = 'True')
        FROM "LiteLLM_SpendLogs" WHERE "startTime" >= %(start)s AND "startTime" < %(end)s GROUP BY 1"""
    return {row[0]: row[1:] for row in _pg(url, query, _month(month))}


def _statement(env: dict, month: str, by: str, out: Path) -> tuple[pl.DataFrame, dict, str]:
    done = run_cli("chargeback", "--month", month, "--by", by, "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    directory = out / month / by
    manifest = json.loads((directory / "manifest.json").read_text())
    return check_statement(directory), manifest, done.stdout


def _cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT)


@pytest.mark.parametrize("month", MONTHS)
def test_statement_total_is_the_months_surviving_logs(
    scenario: LitellmScenario, env: dict, litellm_database_url: str, month: str, tmp_path: Path
) -> None:
    lines, manifest, stdout = _statement(env, month, "org", tmp_path)
    [(spend, logs, failed, written_at_upgrade)] = _pg(
        litellm_database_url,
        """SELECT sum(round(spend::numeric, 12)), count(*), count(*) FILTER (WHERE status = 'failure'),
                  count(*) FILTER (WHERE created_at = %(upgraded)s)
           FROM "LiteLLM_SpendLogs" WHERE "startTime" >= %(start)s AND "startTime" < %(end)s""",
        {**_month(month), "upgraded": scenario.upgraded_at},
    )
    total = sum(lines["BilledCost"].to_list(), Decimal(0))
    assert abs(total - spend) < Decimal("1e-9"), (month, total, spend)
    assert Decimal(manifest["total_exact"]) == total and Decimal(manifest["total"]) == _cents(spend)
    assert f"${_cents(spend):,}" in stdout
    every = lines.select(pl.col("x_Requests", "x_FailedRequests", "x_CachedRequests").sum()).row(0)
    assert sum(every) == logs  # every log in exactly one line, counted once
    assert every[1] == failed > 0 and manifest["failed_requests"] == failed  # failures counted apart
    assert f"besides {failed:,} failed" in stdout
    if month == "2026-10":  # rows older than the upgrade share one created_at: the month is the request's
        assert written_at_upgrade > 0


def test_both_months_add_up_to_the_scenarios_surviving_spend(
    scenario: LitellmScenario, env: dict, tmp_path: Path
) -> None:
    totals = [
        sum(_statement(env, month, "team", tmp_path)[0]["BilledCost"].to_list(), Decimal(0))
        for month in MONTHS
    ]
    assert float(sum(totals)) == pytest.approx(scenario.spend, abs=1e-6)  # nothing before retention's cutoff


@pytest.mark.parametrize("month", MONTHS)
def test_organizations_are_the_logs_organization_id(
    env: dict, litellm_database_url: str, month: str, tmp_path: Path
) -> None:
    lines, _, _ = _statement(env, month, "org", tmp_path)
    expected = _by(litellm_database_url, "organization_id", month)
    got = (
        lines.group_by("SubAccountId")
        .agg(pl.col("BilledCost").sum(), pl.col("x_Requests", "x_FailedRequests", "x_CachedRequests").sum())
        .rows()
    )
    assert {row[0] for row in got} == set(expected)
    # the rule matters here: personal keys' logs carry no organization although their users belong to one
    [(personal,)] = _pg(
        litellm_database_url,
        """SELECT count(*) FROM "LiteLLM_SpendLogs" l JOIN "LiteLLM_UserTable" u ON u.user_id = l."user"
           WHERE l.organization_id = '' AND u.organization_id IS NOT NULL
             AND "startTime" >= %(start)s AND "startTime" < %(end)s""",
        _month(month),
    )
    assert personal > 0 and None in expected
    for org, cost, requests, failed, cached in got:
        want = expected[org]
        assert abs(cost - want[0]) < Decimal("1e-9") and (requests, failed, cached) == want[1:], (month, org)
    aliases = dict(
        _pg(
            litellm_database_url,
            'SELECT organization_id, organization_alias FROM "LiteLLM_OrganizationTable"',
        )
    )
    names = dict(lines.select("SubAccountId", "SubAccountName").unique().rows())
    assert names.pop(None) is None  # no organization: null id, null name, never a placeholder
    assert names == {k: aliases[k] for k in names}


@pytest.mark.parametrize("month", MONTHS)
def test_teams_and_users_never_empty(
    env: dict, litellm_database_url: str, month: str, tmp_path: Path
) -> None:
    lines, _, _ = _statement(env, month, "team", tmp_path)
    expected = _by(litellm_database_url, "team_id", month)
    got = dict(lines.group_by("SubAccountId").agg(pl.col("BilledCost").sum()).rows())
    assert set(got) == set(expected)
    for team, cost in got.items():
        assert abs(cost - expected[team][0]) < Decimal("1e-9"), (month, team)
    assert "" not in set(lines["SubAccountId"]) | set(lines["SubAccountName"])
    tags = [json.loads(t) for t in lines["Tags"]]
    users = {t.get("llmusage/user", "(no user)") for t in tags}
    assert "" not in users
    logged_users = {
        u for (u,) in _pg(
            litellm_database_url,
            """SELECT DISTINCT COALESCE(NULLIF(u.user_email, ''), NULLIF(l."user", ''), '(no user)')
               FROM "LiteLLM_SpendLogs" l LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = l."user"
               WHERE "startTime" >= %(start)s AND "startTime" < %(end)s""",
            _month(month),
        )
    }  # fmt: skip
    assert users == logged_users
