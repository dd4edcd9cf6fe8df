"""Reports and chargeback on a lake extracted from a LiteLLM database (LiteLLM's own schema, built by its
migrations), with spend logs as LiteLLM writes them: event time in "startTime" (`created_at` is write time,
here one instant for every row, as after the migration that added it), the public model in `model_group`,
the provider in `custom_llm_provider`, tags in `request_tags`, `status` 'failure', `cache_hit` 'True',
'' for an absent id, and the master key's own principal."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import psycopg
import pytest

from llmusage.lake.dims import snapshot_dims
from llmusage.lake.extract import ExtractOptions, extract
from llmusage.lake.warehouse import build
from llmusage.reports.chargeback import chargeback_lines
from llmusage.reports.source import freshness
from llmusage.reports.spend import spend, spend_report
from support.focus_rules import check_lines

KEY = hashlib.sha256(b"sk-litellm-1").hexdigest()
MASTER = "litellm_proxy_master_key"
WRITTEN = datetime(2026, 5, 1)  # every row's created_at: not the time of the request
# (request_id, startTime, api_key, user, team_id, organization_id, end_user, model, model_group,
#  custom_llm_provider, call_type, status, cache_hit, request_tags, prompt, completion, spend)
LOGS = [
    ("l1", datetime(2026, 4, 10, 9), KEY, "lu1", "team-l", "org-l", "cust-1", "gpt-4o-2024-08-06", "gpt-4o",
     "openai", "acompletion", "success", "False", '["env:prod"]', 100, 50, 0.20),
    ("l2", datetime(2026, 4, 10, 9, 5), KEY, "lu1", "team-l", "org-l", "cust-1", "gpt-4o-2024-08-06", "gpt-4o",
     "openai", "acompletion", "success", "True", '["env:prod"]', 100, 50, 0.0),
    ("l3", datetime(2026, 4, 10, 9, 10), KEY, "lu1", "team-l", "org-l", "cust-1", "gpt-4o-2024-08-06", "gpt-4o",
     "openai", "acompletion", "failure", "", "[]", 0, 0, 0.0),
    ("l4", datetime(2026, 4, 11, 23, 59, 59), KEY, "", "", "", "", "claude-sonnet-4-20250514", "claude-sonnet-4",
     "anthropic", "acompletion", None, "", '["env:dev", "app:x"]', 300, 100, 0.5),  # no status: a success
    ("l5", datetime(2026, 4, 12, 10), MASTER, "", "", "", None, "gpt-4o-2024-08-06", "gpt-4o", "openai",
     "aembedding", "success", "False", "[]", 20, 0, 0.05),
]  # fmt: skip


@pytest.fixture(scope="module")
def lake(litellm_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with psycopg.connect(litellm_database_url) as conn:
        conn.execute("""INSERT INTO "LiteLLM_BudgetTable" (budget_id, max_budget, created_by, updated_by)
                        VALUES ('b-org', 100, 'admin', 'admin')""")
        conn.execute("""INSERT INTO "LiteLLM_OrganizationTable"
                        (organization_id, organization_alias, budget_id, created_by, updated_by)
                        VALUES ('org-l', 'Lumen', 'b-org', 'admin', 'admin')""")
        conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id, max_budget,
                            budget_duration, budget_reset_at)
                        VALUES ('team-l', 'lab', 'org-l', 10, '1d', '2026-04-11 09:03')""")
        conn.execute("""INSERT INTO "LiteLLM_UserTable" (user_id, user_email, organization_id)
                        VALUES ('lu1', 'lu1@example.com', 'org-l')""")
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, organization_id)
               VALUES (%s, 'lab-key', 'lu1', 'team-l', 'org-l')""",
            (KEY,),
        )
        for row in LOGS:
            rid, start, key, user, team, org, end_user, model, group, provider, call, status, cache, tags = (
                row[:14]
            )
            p, c, cost = row[14:]
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, "startTime", "endTime", api_key, "user",
                   team_id, organization_id, end_user, model, model_group, custom_llm_provider, call_type,
                   status, cache_hit, request_tags, prompt_tokens, completion_tokens, total_tokens, spend,
                   created_at, updated_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (rid, start, start + timedelta(seconds=2), key, user, team, org, end_user, model, group,
                 provider, call, status, cache, tags, p, c, p + c, cost, WRITTEN, WRITTEN),
            )  # fmt: skip
    lake_dir = tmp_path_factory.mktemp("litellm") / "lake"
    extract(litellm_database_url, lake_dir, ExtractOptions(days=(date(2026, 4, 1), date(2026, 5, 31))))
    snapshot_dims(litellm_database_url, lake_dir)
    return lake_dir


def _counts(frame: pl.DataFrame, column: str) -> dict:
    return {
        r[column]: (r["requests"], r["failed_requests"], r["cached_requests"], r["spend"])
        for r in frame.iter_rows(named=True)
    }


def test_days_are_the_requests_time_not_the_write_time(lake: Path) -> None:
    days = _counts(spend(lake, "day"), "day")
    assert days == {
        date(2026, 4, 10): (1, 1, 1, pytest.approx(0.20)),
        date(2026, 4, 11): (1, 0, 0, pytest.approx(0.5)),
        date(2026, 4, 12): (1, 0, 0, pytest.approx(0.05)),
    }
    assert freshness(lake).data_through == datetime(2026, 4, 12, 10)
    assert set(spend(lake, "month")["month"]) == {"2026-04"}


def test_litellm_dimensions_and_counts(lake: Path) -> None:
    report = spend_report(lake, "model_group")
    assert report.totals["requests"] == 3 and report.totals["failed_requests"] == 1
    assert report.totals["cached_requests"] == 1 and report.totals["spend"] == pytest.approx(0.75)
    assert _counts(report.frame, "model_group") == {
        "claude-sonnet-4": (1, 0, 0, pytest.approx(0.5)),
        "gpt-4o": (2, 1, 1, pytest.approx(0.25)),
    }
    assert set(spend(lake, "model")["model"]) == {"gpt-4o-2024-08-06", "claude-sonnet-4-20250514"}
    assert _counts(spend(lake, "provider"), "provider") == {
        "anthropic": (1, 0, 0, pytest.approx(0.5)),
        "openai": (2, 1, 1, pytest.approx(0.25)),
    }
    assert _counts(spend(lake, "status"), "status") == {
        "success": (3, 0, 1, pytest.approx(0.75)),
        "failure": (0, 1, 0, 0.0),
    }
    assert _counts(spend(lake, "call_type"), "call_type") == {
        "acompletion": (2, 1, 1, pytest.approx(0.70)),
        "aembedding": (1, 0, 0, pytest.approx(0.05)),
    }
    # '' became NULL at extract: no team, no org, no end user
    assert _counts(spend(lake, "team"), "team") == {
        "(no team)": (2, 0, 0, pytest.approx(0.55)),
        "lab": (1, 1, 1, pytest.approx(0.20)),
    }
    assert _counts(spend(lake, "org"), "org") == {
        "(no org)": (2, 0, 0, pytest.approx(0.55)),
        "Lumen": (1, 1, 1, pytest.approx(0.20)),
    }
    assert set(spend(lake, "end_user")["end_user"]) == {"cust-1", "(no end user)"}
    keys = _counts(spend(lake, "key"), "key")
    assert keys[f"lab-key ({KEY[:8]})"] == (2, 1, 1, pytest.approx(0.70))
    assert keys["(master key)"] == (1, 0, 0, pytest.approx(0.05))
    tags = _counts(spend(lake, "tag"), "tag")
    assert tags["env:prod"] == (1, 0, 1, pytest.approx(0.20)) and tags["app:x"] == (
        1,
        0,
        0,
        pytest.approx(0.5),
    )
    assert tags["(no tags)"] == (1, 1, 0, pytest.approx(0.05))


def test_chargeback_on_litellm(lake: Path) -> None:
    lines = check_lines(chargeback_lines(lake, "2026-04", "org"))
    check_lines(chargeback_lines(lake, "2026-04", "team"))
    assert sum(lines["BilledCost"].to_list(), Decimal(0)) == Decimal("0.75")
    assert (lines["x_Requests"].sum(), lines["x_FailedRequests"].sum(), lines["x_CachedRequests"].sum()) == (
        3,
        1,
        1,
    )
    assert set(lines["SubAccountName"]) == {"Lumen", None}
    assert set(lines["ServiceName"]) == {"gpt-4o-2024-08-06", "claude-sonnet-4-20250514"}
    assert set(lines["PublisherName"]) == set(lines["HostProviderName"]) == {"openai", "anthropic"}
    assert set(lines["ProviderName"]) == set(lines["InvoiceIssuerName"]) == {"LLM gateway"}  # the gateway
    # LiteLLM keeps no prices in its database: they are derived from the month's billed logs
    assert set(lines["x_ListPriceSource"]) == {"derived from logs"}
    assert chargeback_lines(lake, "2026-05", "org").height == 0  # the write time's month has nothing


def test_warehouse_build_on_litellm(lake: Path, tmp_path: Path) -> None:
    target = tmp_path / "warehouse.duckdb"
    build(lake, target)
    with duckdb.connect(str(target), read_only=True) as duck:
        daily = duck.sql(
            "SELECT day, sum(requests), sum(failed_requests), sum(cached_requests) FROM spend_daily GROUP BY day ORDER BY day"
        ).fetchall()
        assert daily == [
            (date(2026, 4, 10), 1, 1, 1),
            (date(2026, 4, 11), 1, 0, 0),
            (date(2026, 4, 12), 1, 0, 0),
        ]
        monthly = duck.sql(
            "SELECT month, team_alias, organization_alias, requests FROM chargeback_monthly ORDER BY ALL"
        ).fetchall()
        assert monthly == [(date(2026, 4, 1), "lab", "Lumen", 1), (date(2026, 4, 1), None, None, 2)]


def test_charts_on_litellm(lake: Path, tmp_path: Path) -> None:
    from llmusage.reports.charts import chart

    for by in ("team", "org", "model_group", "end_user"):
        path, daily = chart(lake, by, tmp_path / f"{by}.png")
        assert path.read_bytes()[:4] == b"\x89PNG" and daily["spend"].sum() == pytest.approx(0.75)


def test_forecast_on_litellm(lake: Path) -> None:
    from llmusage.reports.forecast import forecast_report

    rows = {r["team"]: r for r in forecast_report(lake).frame.iter_rows(named=True)}
    lab = rows["lab"]  # as of the latest event time (04-12 10:00), not of the rows' write time (05-01)
    assert lab["month_spend"] == pytest.approx(0.20) and lab["daily_rate"] == pytest.approx(0.20 / 7)
    assert lab["max_budget"] == 10 and lab["outlook"] == "ok"
    # the budget's current period is LiteLLM's (1d ending at budget_reset_at): it began after l1's 0.20
    assert lab["window_spend"] == pytest.approx(0.0)
    # the 1d period ended at budget_reset_at (04-11 09:03): nothing more can land in it, whatever the
    # month's rate, so its projected utilization is its spend's, not a month of spend against a day's budget
    assert lab["period_end"] == datetime(2026, 4, 11, 9, 3)
    assert lab["projected_window_spend"] == pytest.approx(0.0) and lab["projected_utilization"] == 0
