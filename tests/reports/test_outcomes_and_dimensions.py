"""The normalized spend log's newer dimensions (end user, status, call type, model group) and the request
counts kept apart (requests, failed_requests, cached_requests), on a lake extracted from an llmusage
database whose logs carry them in `metadata`, as the llmusage proxy writes them; figures by hand below."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import psycopg
import pytest

from llmusage.errors import LlmusageError
from llmusage.lake.dims import snapshot_dims
from llmusage.lake.extract import ExtractOptions, extract
from llmusage.lake.warehouse import build
from llmusage.reports.chargeback import chargeback, chargeback_lines
from llmusage.reports.spend import spend, spend_report, top
from support.db import run_cli
from support.focus_rules import check_lines, check_statement

K1, K2 = (hashlib.sha256(s.encode()).hexdigest() for s in ("sk-out-1", "sk-out-2"))
# (request_id, created_at, key, user, team, model, provider, prompt, completion, spend, metadata)
LOGS = [
    ("n1", datetime(2026, 3, 2, 10), K1, "u1", "team-x", "gpt-4o", "openai", 100, 50, 0.10,
     {"tags": ["env:prod"], "status": "success", "end_user": "cust-a", "call_type": "chat"}),
    ("n2", datetime(2026, 3, 2, 11), K1, "u1", "team-x", "gpt-4o", "openai", 0, 0, 0.0,
     {"status": "failure", "end_user": "cust-a", "call_type": "chat", "error": "upstream 500"}),
    ("n3", datetime(2026, 3, 2, 12), K1, "u1", "team-x", "text-embedding-3-small", "openai", 40, 0, 0.001,
     {"status": "success", "end_user": "cust-b", "call_type": "embeddings"}),
    ("n4", datetime(2026, 3, 3, 9), K2, "u2", None, "claude-sonnet-4", "anthropic", 300, 20, 0.05,
     {"status": "client_disconnected", "call_type": "chat"}),
    ("n5", datetime(2026, 3, 3, 10), K2, "u2", None, "claude-sonnet-4", "anthropic", 300, 0, 0.002,
     {"status": "failure", "call_type": "chat"}),  # a failure that cost something: never dropped
]  # fmt: skip
TOTAL = 0.153


@pytest.fixture(scope="module")
def lake(database_url: str, cli_env: dict[str, str]) -> Path:
    with psycopg.connect(database_url) as conn:
        conn.execute("""INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias)
                        VALUES ('org-a', 'Acme'), ('org-b', 'Beta')""")
        conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id)
                        VALUES ('team-x', 'search', 'org-a')""")
        conn.execute("""INSERT INTO "LiteLLM_UserTable" (user_id, user_email, organization_id)
                        VALUES ('u1', 'u1@example.com', 'org-a'), ('u2', 'u2@example.com', 'org-b')""")
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id)
               VALUES (%s, 'search-prod', 'u1', 'team-x'), (%s, 'notebook', 'u2', NULL)""",
            (K1, K2),
        )
        for rid, at, key, user, team, model, provider, p, c, cost, metadata in LOGS:
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, api_provider, prompt_tokens,
                   completion_tokens, total_tokens, spend, "user", team_id, metadata, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (rid, key, model, provider, p, c, p + c, cost, user, team, json.dumps(metadata), at),
            )
    lake_dir = Path(cli_env["LLMUSAGE_HOME"]) / "lake"
    extract(database_url, lake_dir, ExtractOptions(days=(date(2026, 3, 1), date(2026, 3, 31))))
    snapshot_dims(database_url, lake_dir)
    return lake_dir


def _counts(frame: pl.DataFrame, column: str) -> dict[str, tuple[int, int, int, float]]:
    return {
        r[column]: (r["requests"], r["failed_requests"], r["cached_requests"], r["spend"])
        for r in frame.iter_rows(named=True)
    }


def test_failed_requests_are_counted_apart_and_their_spend_kept(lake: Path) -> None:
    report = spend_report(lake, "team")
    assert report.totals == {
        "requests": 3,  # n1, n3, n4 (a stream the client left was served and billed)
        "failed_requests": 2,
        "cached_requests": 0,  # the llmusage proxy has no cache
        "tokens": 810,
        "spend": pytest.approx(TOTAL),
        "share": 1.0,
    }
    assert _counts(report.frame, "team") == {
        "search": (2, 1, 0, pytest.approx(0.101)),
        "(no team)": (1, 1, 0, pytest.approx(0.052)),
    }
    assert _counts(spend(lake, "status"), "status") == {
        "success": (2, 0, 0, pytest.approx(0.101)),
        "client_disconnected": (1, 0, 0, pytest.approx(0.05)),
        "failure": (0, 2, 0, pytest.approx(0.002)),
    }
    assert spend(lake, "team", where=["status!=failure"])["failed_requests"].sum() == 0


def test_end_user_call_type_and_model_group(lake: Path) -> None:
    assert _counts(spend(lake, "end_user"), "end_user") == {
        "cust-a": (1, 1, 0, pytest.approx(0.10)),
        "cust-b": (1, 0, 0, pytest.approx(0.001)),
        "(no end user)": (1, 1, 0, pytest.approx(0.052)),
    }
    assert _counts(spend(lake, "team", where=["end_user=cust-b"]), "team") == {
        "search": (1, 0, 0, pytest.approx(0.001))
    }
    calls = _counts(spend(lake, "call_type"), "call_type")
    assert calls == {"chat": (2, 2, 0, pytest.approx(0.152)), "embeddings": (1, 0, 0, pytest.approx(0.001))}
    # on the llmusage flavour the public model is the model the log names
    groups = spend(lake, "model_group,model")
    assert (groups["model_group"] == groups["model"]).all() and groups.height == 3
    # a team-less log's organization is its user's, as the extract recorded it on the log
    assert _counts(spend(lake, "org"), "org") == {
        "Acme": (2, 1, 0, pytest.approx(0.101)),
        "Beta": (1, 1, 0, pytest.approx(0.052)),
    }
    ranked = top(lake, "end_user", 1)
    assert ranked.frame.select("rank", "end_user").rows() == [(1, "cust-a")]
    assert "2 more not shown" in ranked.notes[-1]


def test_end_users_stay_out_of_the_grouped_table_unless_asked(lake: Path) -> None:
    from llmusage.reports.spend import spend_groups

    assert spend_groups(lake)["end_user"].null_count() == spend_groups(lake).height
    assert set(spend_groups(lake, by_end_user=True)["end_user"]) == {"cust-a", "cust-b", "(no end user)"}


def test_chargeback_counts_failures_apart_and_bills_every_log(lake: Path, tmp_path: Path) -> None:
    lines = check_lines(chargeback_lines(lake, "2026-03", "team"))
    assert sum(lines["BilledCost"].to_list(), Decimal(0)) == Decimal("0.153")
    assert (lines["x_Requests"].sum(), lines["x_FailedRequests"].sum(), lines["x_CachedRequests"].sum()) == (
        3,
        2,
        0,
    )
    failed = lines.filter(pl.col("x_FailedRequests") > 0)["ChargeDescription"].to_list()
    assert any(
        d.endswith("to gpt-4o by u1@example.com with key search-prod (0 requests, 1 failed)") for d in failed
    )
    statement = chargeback(lake, "2026-03", "org", out=tmp_path)
    check_statement(statement.directory)
    assert (statement.requests, statement.failed_requests, statement.cached_requests) == (3, 2, 0)
    assert statement.manifest["failed_requests"] == 2 and statement.total == Decimal("0.153")
    summary = (statement.directory / "summary.md").read_text()
    assert "| organization | id | requests | failed | cached | tokens | billed |" in summary
    assert "| Beta | org-b | 1 | 1 | 0 | 620 | $0.05 |" in summary
    again = chargeback(lake, "2026-03", "org", out=tmp_path)  # frozen: the counts come from the manifest
    assert not again.written and (again.requests, again.failed_requests) == (3, 2)


def test_warehouse_views_split_the_counts(lake: Path, tmp_path: Path) -> None:
    target = tmp_path / "warehouse.duckdb"
    build(lake, target)
    with duckdb.connect(str(target), read_only=True) as duck:
        daily = duck.sql(
            "SELECT sum(requests), sum(failed_requests), sum(cached_requests), sum(spend) FROM spend_daily"
        ).fetchall()[0]
        assert daily[:3] == (3, 2, 0) and daily[3] == pytest.approx(TOTAL)
        columns = {c[0] for c in duck.sql("DESCRIBE spend_daily").fetchall()}
        assert {"user_id", "provider", "organization_id", "model_group"} <= columns
        assert not {"user", "api_provider"} & columns
        monthly = duck.sql(
            """SELECT organization_alias, sum(requests), sum(failed_requests), sum(spend)
               FROM chargeback_monthly GROUP BY ALL ORDER BY 1"""
        ).fetchall()
        assert [row[:3] for row in monthly] == [("Acme", 2, 1), ("Beta", 1, 1)]
        lines = duck.sql(
            "SELECT sum(x_Requests), sum(x_FailedRequests), sum(x_CachedRequests), sum(BilledCost) FROM chargeback_lines"
        ).fetchall()[0]
        assert lines == (3, 2, 0, Decimal("0.153"))
        team_day = duck.sql(
            "SELECT day, requests, failed_requests FROM spend_by_team_day WHERE team = 'search'"
        ).fetchall()
        assert team_day == [(date(2026, 3, 2), 2, 1)]


@pytest.mark.parametrize(("by", "message"), [("end_users", "unknown dimension"), ("status,status", "twice")])
def test_new_dimensions_are_whitelisted_too(lake: Path, by: str, message: str) -> None:
    with pytest.raises(LlmusageError, match=message):
        spend_report(lake, by)


def test_cli_by_new_dimensions(lake: Path, cli_env: dict[str, str]) -> None:
    result = run_cli("report", "spend", "--by", "end_user,status", "--where", "call_type=chat", env=cli_env)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header == "end_user,status,requests,failed_requests,cached_requests,tokens,spend,share"
    assert len(rows) == 4 and any(r.startswith("cust-a,failure,0,1,0,") for r in rows)
    helped = run_cli("report", "spend", "--help", env=cli_env)
    assert "model_group" in helped.stdout and "end_user" in helped.stdout
    charged = run_cli("chargeback", "--month", "2026-03", env=cli_env)
    assert "3 requests (besides 2 failed, 0 cached), $0.15 USD" in charged.stdout
