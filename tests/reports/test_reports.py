"""Reports and chargeback over a lake extracted from a handful of hand-written spend logs, whose figures
are computed by hand below; the CLI's formats, parsing and errors; chargeback determinism."""

from __future__ import annotations

import csv as csv_module
import hashlib
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import psycopg
import pytest

from llmusage.errors import LlmusageError
from llmusage.lake.dims import snapshot_dims
from llmusage.lake.extract import ExtractOptions, extract
from llmusage.reports.anomalies import anomalies_report
from llmusage.reports.budgets import budgets_report, drift_report
from llmusage.reports.chargeback import allocate_cents, chargeback, chargeback_lines
from llmusage.reports.charts import budget_utilization, chart, partial_day, spend_before
from llmusage.reports.forecast import forecast_report
from llmusage.reports.output import render
from llmusage.reports.params import parse_dimensions, parse_filter, parse_month
from llmusage.reports.report import arrange
from llmusage.reports.spend import spend, spend_report, top
from support.db import run_cli
from support.focus_rules import check_lines, check_statement


def _token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


K1, K2, K3 = _token("sk-test-1"), _token("sk-test-2"), _token("sk-deleted-3")
# (request_id, created_at (the event time on this flavour), key, user, team, model, provider, prompt,
# completion, spend, tags)
LOGS = [
    ("r1", datetime(2026, 3, 2, 10), K1, "u1", "team-x", "gpt-4o", "openai", 100, 50, 0.10, ["env:prod", "app:chat"]),
    ("r2", datetime(2026, 3, 2, 11), K1, "u1", "team-x", "claude-sonnet-4", "anthropic", 200, 100, 0.25,
     ["env:prod", "feature:search"]),
    ("r3", datetime(2026, 3, 3, 9), K2, "u2", "team-y", "gpt-4o", "openai", 10, 10, 0.015, ["env:dev"]),
    ("r4", datetime(2026, 3, 10, 12), K2, "u2", "team-y", "gpt-4o-mini", "openai", 1000, 0, 0.005, None),
    ("r5", datetime(2026, 3, 12, 15), K2, "u2", "team-y", "gpt-4o", "openai", 4000, 1000, 2.0, ["env:dev"]),
    ("r6", datetime(2026, 3, 31, 23, 59, 59), K3, None, None, "gpt-4o", "openai", 1, 1, 1.000000001, ["env:prod"]),
    ("r7", datetime(2026, 4, 1), K1, "u1", "team-x", "gpt-4o", "openai", 5, 5, 0.333, ["env:prod"]),
]  # fmt: skip
MARCH = Decimal("3.370000001")  # r1..r6
ALL = 3.703000001


@pytest.fixture(scope="module")
def lake(database_url: str, cli_env: dict[str, str]) -> Path:
    with psycopg.connect(database_url) as conn:
        conn.execute("""INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias, spend)
                        VALUES ('org-a', 'Acme', 0.683), ('org-b', 'Beta', 2.02)""")
        conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id, max_budget, spend)
                        VALUES ('team-x', 'search', 'org-a', 0.5, 0.683), ('team-y', 'mobile', NULL, 100, 2.5)""")
        conn.execute("""INSERT INTO "LiteLLM_UserTable" (user_id, user_email, organization_id, spend)
                        VALUES ('u1', 'u1@example.com', 'org-a', 0.683), ('u2', 'u2@example.com', 'org-b', 2.02)""")
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, max_budget, spend)
               VALUES (%s, 'search-prod', 'u1', 'team-x', 5, 0.683), (%s, 'mobile-dev', 'u2', 'team-y', NULL, 2.02)""",
            (K1, K2),
        )
        for rid, at, key, user, team, model, provider, p, c, cost, tags in LOGS:
            metadata = json.dumps({"tags": tags} if tags else {})
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, api_provider, prompt_tokens,
                   completion_tokens, total_tokens, spend, "user", team_id, metadata, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (rid, key, model, provider, p, c, p + c, cost, user, team, metadata, at),
            )
    lake_dir = Path(cli_env["LLMUSAGE_HOME"]) / "lake"
    extract(database_url, lake_dir, ExtractOptions(days=(date(2026, 3, 1), date(2026, 4, 30))))
    snapshot_dims(database_url, lake_dir)
    return lake_dir


def _rows(frame: pl.DataFrame, column: str) -> dict[str, tuple[int, float]]:
    return {r[column]: (r["requests"], r["spend"]) for r in frame.iter_rows(named=True)}


def test_spend_by_team_org_key_and_model(lake: Path) -> None:
    by_team = spend(lake, "team")
    assert by_team["team"].to_list() == ["mobile", "(no team)", "search"]  # largest first
    rows = _rows(by_team, "team")
    assert rows["mobile"] == (3, pytest.approx(2.02))
    assert rows["(no team)"] == (1, pytest.approx(1.000000001))
    assert rows["search"] == (3, pytest.approx(0.683))
    orgs = _rows(spend(lake, "org"), "org")  # team-y has no org: its user's org (Beta) counts
    assert orgs == {"Beta": (3, pytest.approx(2.02)), "(no org)": (1, pytest.approx(1.000000001)),
                    "Acme": (3, pytest.approx(0.683))}  # fmt: skip
    keys = _rows(spend(lake, "key"), "key")
    assert set(keys) == {f"mobile-dev ({K2[:8]})", f"(deleted key) ({K3[:8]})", f"search-prod ({K1[:8]})"}
    assert not any(K1 in k or K2 in k or K3 in k for k in keys)  # never the whole hash
    report = spend_report(lake, "model,provider")
    assert report.totals == {
        "requests": 7,
        "failed_requests": 0,
        "cached_requests": 0,
        "tokens": 6482,
        "spend": pytest.approx(ALL),
        "share": 1.0,
    }
    model = {(r["model"], r["provider"]): r["spend"] for r in report.frame.iter_rows(named=True)}
    assert model[("gpt-4o", "openai")] == pytest.approx(0.10 + 0.015 + 2.0 + 1.000000001 + 0.333)
    assert report.frame["tokens"].sum() == 6482


def test_spend_by_time_and_tags(lake: Path) -> None:
    months = _rows(spend(lake, "month"), "month")
    assert months == {"2026-03": (6, pytest.approx(float(MARCH))), "2026-04": (1, pytest.approx(0.333))}
    weeks = spend(lake, "week")  # ISO weeks start on Monday: 2026-03-02 is one
    assert dict(zip(weeks["week"].to_list(), weeks["requests"].to_list(), strict=True))[date(2026, 3, 2)] == 3
    days = spend(lake, "day", start=date(2026, 3, 2), end=date(2026, 3, 3))
    assert _rows(days, "day") == {
        date(2026, 3, 2): (2, pytest.approx(0.35)),
        date(2026, 3, 3): (1, pytest.approx(0.015)),
    }
    tags = spend_report(lake, "tag")
    got = _rows(tags.frame, "tag")
    assert got["env:prod"] == (4, pytest.approx(1.683000001))
    assert got["env:dev"] == (2, pytest.approx(2.015))
    assert got["(no tags)"] == (1, pytest.approx(0.005))
    assert tags.totals["spend"] == pytest.approx(ALL)  # each request once, though tag rows overlap
    env = _rows(spend(lake, "tag:env"), "tag_env")
    assert env == {"dev": (2, pytest.approx(2.015)), "prod": (4, pytest.approx(1.683000001)),
                   "(none)": (1, pytest.approx(0.005))}  # fmt: skip
    both = spend(lake, "team,model")
    assert both.row(0, named=True) == {
        "team": "mobile",
        "model": "gpt-4o",
        "requests": 2,
        "failed_requests": 0,
        "cached_requests": 0,
        "tokens": 5020,
        "spend": pytest.approx(2.015),
        "share": pytest.approx(2.015 / ALL),
    }


def test_filters(lake: Path) -> None:
    assert _rows(spend(lake, "team", where=["team=search"]), "team") == {"search": (3, pytest.approx(0.683))}
    assert _rows(spend(lake, "team", where=["team=team-x"]), "team") == {"search": (3, pytest.approx(0.683))}
    assert set(spend(lake, "model", where=["model!=gpt-4o"])["model"]) == {"gpt-4o-mini", "claude-sonnet-4"}
    assert spend(lake, "key", where=[f"key={K2[:10]}"])["requests"].to_list() == [3]
    assert _rows(spend(lake, "org", where=["tag=app:chat"]), "org") == {"Acme": (1, pytest.approx(0.10))}
    both = spend(lake, "team", where=["team=search,mobile", "provider=openai"])
    assert _rows(both, "team") == {"mobile": (3, pytest.approx(2.02)), "search": (2, pytest.approx(0.433))}
    # a value is data, never SQL: an injection attempt in a value matches nothing, which is an error
    with pytest.raises(LlmusageError, match="no team is named \"x' OR '1'='1\""):
        spend(lake, "team", where=["team=x' OR '1'='1"])


@pytest.mark.parametrize(
    ("by", "where", "message"),
    [
        ("team;DROP TABLE spend_logs", (), "unknown dimension"),
        ("team,team", (), "twice"),
        ("", (), "at least one dimension"),
        ("tag:bad name", (), "unknown dimension"),
        ("team", ("team) OR (1=1",), "is not DIMENSION=VALUE"),
        ("team", ("spend>1",), "is not DIMENSION=VALUE"),
        ("team", ("day=2026-03-02",), "use --from/--to"),
        ("team", ("password=x",), "unknown field"),
    ],
)
def test_bad_dimensions_and_filters_are_clear_errors(lake: Path, by: str, where: tuple, message: str) -> None:
    with pytest.raises(LlmusageError, match=message):
        spend_report(lake, by, where=where)


def test_parsers() -> None:
    assert [d.column for d in parse_dimensions("Team, model ,tag:env")] == ["team", "model", "tag_env"]
    assert parse_filter("model != gpt-4o").negate
    assert parse_month("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    for bad in ("2026-13", "2026-1", "march"):
        with pytest.raises(LlmusageError):
            parse_month(bad)


def test_users_are_emails_and_filters_take_either(lake: Path) -> None:
    users = _rows(spend(lake, "user"), "user")
    assert set(users) == {"u1@example.com", "u2@example.com", "(no user)"}  # not ids, as budgets shows
    by_email = spend(lake, "team", where=["user=u1@example.com"])
    assert _rows(by_email, "team") == {"search": (3, pytest.approx(0.683))}
    assert spend(lake, "team", where=["user=u1"]).equals(by_email)
    assert top(lake, "user", 1).frame["user"].to_list() == ["u2@example.com"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("team=serch", "no team is named 'serch'; did you mean 'search'"),
        ("user=u1@exmaple.com", "did you mean 'u1@example.com'"),
        ("model!=gpt-4", "no model is named 'gpt-4'; did you mean 'gpt-4o'"),
        ("tag=env:prd", "did you mean 'env:prod'"),
        ("key=search-prd", "did you mean 'search-prod'"),
        ("provider=nothing-like-it", "no provider is named 'nothing-like-it'$"),
    ],
)
def test_an_unknown_filter_value_is_an_error_with_suggestions(lake: Path, where: str, message: str) -> None:
    with pytest.raises(LlmusageError, match=message):
        spend_report(lake, "team", where=[where])


def test_a_known_value_without_spend_in_range_is_an_empty_report(lake: Path) -> None:
    report = spend_report(lake, "team", date(2026, 3, 20), date(2026, 3, 25), where=["team=search"])
    assert report.empty  # search exists (spent on other days): not an error
    assert spend(lake, "key", where=["key=search-prod"])["requests"].to_list() == [3]


def test_day_is_a_time_series_and_sort_and_limit_apply_to_any_report(lake: Path) -> None:
    days = spend(lake, "day")["day"].to_list()
    assert days == sorted(days) and len(days) == 6  # by day, not by spend
    by_team_day = spend(lake, "day,team")
    assert by_team_day["day"].to_list() == sorted(by_team_day["day"].to_list())
    report = arrange(spend_report(lake, "model"), "-tokens,model", 1)
    assert report.frame["model"].to_list() == ["gpt-4o"] and report.totals["requests"] == 7
    assert "2 more not shown (--limit 1)" in report.notes[-1]
    assert arrange(spend_report(lake, "team"), "team").frame["team"].to_list() == [
        "(no team)",
        "mobile",
        "search",
    ]
    with pytest.raises(LlmusageError, match="did you mean spend"):
        arrange(spend_report(lake, "team"), "spnd")
    forecast_sorted = arrange(forecast_report(lake), "team")
    assert forecast_sorted.frame["team"].to_list() == ["mobile", "search"]


def test_top_by_any_dimension_with_filters(lake: Path) -> None:
    report = top(lake, "model", 2, where=["team=mobile"])
    assert report.frame.select("rank", "model").rows() == [(1, "gpt-4o"), (2, "gpt-4o-mini")]
    assert report.totals["spend"] == pytest.approx(2.02)
    assert top(lake, "provider", 1).frame["provider"].to_list() == ["openai"]


def test_top_and_the_freshness_note(lake: Path) -> None:
    report = top(lake, "key", 2)
    assert report.frame["rank"].to_list() == [1, 2] and report.frame["key"][0].startswith("mobile-dev")
    assert report.totals["spend"] == pytest.approx(ALL)
    assert "as of the last extract: logs through 2026-04-01 00:00 UTC" in report.notes[0]


def test_budgets_and_drift(lake: Path, database_url: str) -> None:
    report = budgets_report(database_url, lake)
    first = report.frame.row(0, named=True)
    assert (first["entity_type"], first["name"], first["status"]) == ("team", "search", "exceeded")
    assert first["ledger_spend"] == pytest.approx(0.683) and first["utilization"] == pytest.approx(
        0.683 / 0.5
    )
    orphan = report.frame.filter(pl.col("status") == "orphaned").row(0, named=True)
    assert orphan["name"] == f"(no alias) ({K3[:8]})" and orphan["entity_id"] == K3[:8]
    drift = drift_report(database_url, lake).frame
    assert drift.select("entity_type", "name").rows() == [("team", "mobile")]
    assert drift["drift"][0] == pytest.approx(0.48)


def test_anomalies_against_a_trailing_baseline(lake: Path) -> None:
    frame = anomalies_report(lake, date(2026, 3, 9), date(2026, 3, 20)).frame
    assert sorted(frame.select("entity_type", "entity_id").rows()) == [("key", K2[:8]), ("team", "team-y")]
    row = frame.filter(pl.col("entity_type") == "team").row(0, named=True)
    assert row["day"] == date(2026, 3, 12) and row["spend"] == pytest.approx(2.0)
    assert row["baseline"] == pytest.approx(0.005 / 7)  # 03-05..03-11, the 10th's 0.005 only
    quiet = anomalies_report(lake, date(2026, 3, 9), date(2026, 3, 20), min_increase=2.5).frame
    assert quiet.height == 0


def test_forecast_per_team(lake: Path) -> None:
    report = forecast_report(lake)  # April, as of the lake's latest log (04-01 00:00): 30 days left
    rows = {r["team"]: r for r in report.frame.iter_rows(named=True)}
    x = rows["search"]
    assert x["month_spend"] == pytest.approx(0.333) and x["daily_rate"] == pytest.approx(0.333 / 7)
    assert x["projected_month_spend"] == pytest.approx(0.333 + 0.333 / 7 * 30)
    assert x["window_spend"] == pytest.approx(0.683) and x["outlook"] == "exceeded"
    assert rows["mobile"]["outlook"] == "ok" and rows["mobile"]["projected_month_spend"] == 0
    # utilization is the budget's (lifetime here) at the horizon, as projected_window_spend says
    assert x["projected_window_spend"] == pytest.approx(0.683 + 0.333 / 7 * 30)
    assert x["projected_utilization"] == pytest.approx(x["projected_window_spend"] / 0.5)


def test_forecast_of_a_past_month_counts_only_that_month(lake: Path) -> None:
    rows = {r["team"]: r for r in forecast_report(lake, "2026-03").frame.iter_rows(named=True)}
    assert rows["search"]["month_spend"] == pytest.approx(0.35)  # r1 + r2, not April's r7
    assert rows["search"]["projected_month_spend"] == pytest.approx(0.35)  # the month is over
    assert rows["mobile"]["month_spend"] == pytest.approx(2.02)


def test_chargeback_lines_and_totals(lake: Path, database_url: str) -> None:
    lines = check_lines(chargeback_lines(lake, "2026-03", "team"))
    assert lines.height == 11  # 6 groups, each an input line and (but r4: no completion) an output line
    assert lines["x_Requests"].sum() == 6  # counted on the input lines only
    assert sum(lines["BilledCost"].to_list(), Decimal(0)) == MARCH  # exact, no rounding at all
    with psycopg.connect(database_url) as conn:  # each log's spend as its shortest decimal, summed exactly
        pg = conn.execute(
            """SELECT request_id, spend::text FROM "LiteLLM_SpendLogs"
               WHERE created_at >= '2026-03-01' AND created_at < '2026-04-01'"""
        ).fetchall()
    assert sum(lines["BilledCost"].to_list(), Decimal(0)) == sum((Decimal(v) for _, v in pg), Decimal(0))
    assert sorted(rid for rid, _ in pg) == ["r1", "r2", "r3", "r4", "r5", "r6"]
    first = lines.row(0, named=True)
    assert first["ChargeCategory"] == "Usage" and first["BillingCurrency"] == "USD"
    assert first["ChargePeriodStart"].isoformat() == "2026-03-02T00:00:00+00:00"
    assert first["BillingPeriodEnd"].isoformat() == "2026-04-01T00:00:00+00:00"
    assert first["ChargeDescription"] == (
        "200 input tokens to claude-sonnet-4 by u1@example.com with key search-prod (1 request)"
    )
    assert (first["x_TokenType"], first["PricingQuantity"], first["PricingUnit"]) == ("input", 200, "Tokens")
    assert first["ServiceCategory"] == "AI and Machine Learning" and first["PublisherName"] == "anthropic"
    assert first["ListUnitPrice"] * first["PricingQuantity"] == first["ListCost"]
    assert json.loads(first["Tags"]) == {
        "env": "prod",
        "feature": "search",
        "llmusage/key_alias": "search-prod",
        "llmusage/key_hash_prefix": K1[:8],
        "llmusage/user": "u1@example.com",
        "llmusage/user_id": "u1",
    }
    by_org = check_lines(chargeback_lines(lake, "2026-03", "org"))
    totals = by_org.group_by("SubAccountName").agg(pl.col("BilledCost").sum())
    assert dict(totals.rows()) == {
        "Acme": Decimal("0.35"),
        "Beta": Decimal("2.02"),
        None: Decimal("1.000000001"),
    }
    assert by_org.filter(pl.col("SubAccountName").is_null())["SubAccountId"].null_count() == 2  # no "(none)"


def test_list_prices_come_from_the_logs_without_a_model_table(lake: Path) -> None:
    lines = chargeback_lines(lake, "2026-03", "team")
    claude = lines.filter(pl.col("ServiceName") == "claude-sonnet-4")
    assert set(claude["x_ListPriceSource"]) == {"derived from logs"}
    assert sum(claude["BilledCost"].to_list(), Decimal(0)) == Decimal("0.25")
    assert sum(claude["ListCost"].to_list(), Decimal(0)) == Decimal("0.25")  # one log: explained exactly


def test_allocate_cents_never_loses_a_cent() -> None:
    amounts = [Decimal("0.333333"), Decimal("0.333333"), Decimal("0.333334")]
    assert allocate_cents(amounts, Decimal("1.00")) == [Decimal("0.33"), Decimal("0.33"), Decimal("0.34")]


def test_chargeback_is_frozen_and_reproducible(lake: Path, tmp_path: Path) -> None:
    first = chargeback(lake, "2026-03", "team", out=tmp_path)
    assert first.written and first.status == "closed" and first.total == MARCH
    check_statement(first.directory)
    files = {
        name: (first.directory / name).read_bytes()
        for name in ("chargeback.csv", "chargeback.parquet", "summary.md")
    }
    manifest = (first.directory / "manifest.json").read_bytes()
    again = chargeback(lake, "2026-03", "team", out=tmp_path)
    assert not again.written and (first.directory / "manifest.json").read_bytes() == manifest
    (first.directory / "chargeback.csv").write_bytes(files["chargeback.csv"].replace(b"0.1", b"0.0", 1))
    with pytest.raises(LlmusageError, match="was altered"):
        chargeback(lake, "2026-03", "team", out=tmp_path)
    restated = chargeback(lake, "2026-03", "team", out=tmp_path, restate=True)
    assert restated.written
    for name, data in files.items():  # the data did not change: the same bytes
        assert (first.directory / name).read_bytes() == data, name
    summary = files["summary.md"].decode()
    assert "**closed**" in summary and "$3.37 USD" in summary and "| mobile | team-y | 3 |" in summary
    parquet = pl.read_parquet(first.directory / "chargeback.parquet")
    assert sum(parquet["BilledCost"].to_list(), Decimal(0)) == MARCH
    csv = pl.read_csv(first.directory / "chargeback.csv", schema_overrides={"BilledCost": pl.String})
    assert sum((Decimal(v) for v in csv["BilledCost"]), Decimal(0)) == MARCH
    future = chargeback(lake, "2099-01", "team", out=tmp_path)
    assert future.status == "provisional" and future.lines == 0  # not extracted 2 h after it ended


def test_chart_files_open(lake: Path, tmp_path: Path) -> None:
    png, daily = chart(lake, "team", tmp_path / "spend.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert daily["spend"].sum() == pytest.approx(ALL)
    page, _ = chart(lake, "model", tmp_path / "spend.html", date(2026, 3, 1), date(2026, 3, 31))
    text = page.read_text()
    assert "<svg" in text and "</html>" in text and "<script" not in text and "src=" not in text
    with pytest.raises(LlmusageError, match="no spend in range"):
        chart(lake, "team", tmp_path / "empty.png", date(2020, 1, 1), date(2020, 1, 2))
    assert spend_before(lake, "team", date(2026, 3, 3)) == {"search": pytest.approx(0.35)}
    with pytest.raises(LlmusageError, match=r"\.png or \.html"):
        chart(lake, "team", tmp_path / "x.gif")


def test_chart_budget_panel_is_utilization_with_every_group_over_budget(lake: Path, tmp_path: Path) -> None:
    usage = budget_utilization(lake, "team")
    final = {label: rows["utilization"][-1] for (label,), rows in usage.sort("day").group_by("label")}
    # search: 0.683 of its 0.5; mobile: 2.02 of its 100 (both on one percent scale)
    assert final == {"search": pytest.approx(136.6), "mobile": pytest.approx(2.02)}
    # a group over its budget is drawn even when it is not among the charted (top) groups
    assert set(budget_utilization(lake, "team", charted=["mobile"])["label"]) == {"search", "mobile"}
    assert set(budget_utilization(lake, "team", charted=[])["label"]) == {"search"}
    page, _ = chart(lake, "team", tmp_path / "budgets.html")
    text = page.read_text()
    assert "budget used" in text and "137%" in text and "2%" in text


def test_chart_marks_a_partial_last_day() -> None:
    daily = pl.DataFrame({"day": [date(2026, 3, 1), date(2026, 3, 2)], "spend": [1.0, 0.2]})
    assert partial_day(daily, datetime(2026, 3, 2, 9, 30)) == "partial: through 09:30 UTC"
    assert partial_day(daily, datetime(2026, 3, 5, 9, 30)) is None  # the chart ends before the lake does


def test_every_format(lake: Path, tmp_path: Path) -> None:
    report = spend_report(lake, "team")
    csv = io.StringIO()
    render(report, "csv", stdout=csv)
    assert pl.read_csv(io.StringIO(csv.getvalue()))["spend"].sum() == pytest.approx(ALL)
    body = io.StringIO()
    render(report, "json", stdout=body)
    parsed = json.loads(body.getvalue())
    assert parsed["totals"]["requests"] == 7 and next(r["team"] for r in parsed["rows"]) == "mobile"
    md = io.StringIO()
    render(report, "md", stdout=md)
    assert "| **TOTAL** |" in md.getvalue() and "**$3.70**" in md.getvalue()
    table = io.StringIO()
    render(report, "table", stdout=table)
    assert (
        "TOTAL" in table.getvalue()
        and "$2.02" in table.getvalue()
        and "as of the last extract" in table.getvalue()
    )
    render(report, "parquet", out=tmp_path / "spend.parquet")
    parquet = pl.read_parquet(tmp_path / "spend.parquet")
    assert parquet.schema["spend"] == pl.Decimal(38, 10) and parquet["team"].equals(report.frame["team"])
    assert sum(parquet["spend"].to_list(), Decimal(0)) == Decimal("3.7030000010")
    with pytest.raises(LlmusageError, match="does not exist"):
        render(report, "csv", out=tmp_path / "missing" / "spend.csv")
    with pytest.raises(LlmusageError, match="is a directory"):
        render(report, "csv", out=tmp_path)


def test_machine_formats_have_no_float_noise_and_zoned_times(
    lake: Path, database_url: str, tmp_path: Path
) -> None:
    report = spend_report(lake, "team")
    csv = io.StringIO()
    render(report, "csv", stdout=csv)
    rows = list(csv_module.DictReader(io.StringIO(csv.getvalue())))
    assert [r["spend"] for r in rows] == ["2.0200000000", "1.0000000010", "0.6830000000"]
    assert all(len(r["share"]) <= 8 for r in rows)  # 0.545503, not 0.5455036456926816
    body = io.StringIO()
    render(report, "json", stdout=body)
    parsed = json.loads(body.getvalue())
    assert parsed["totals"]["spend"] == "3.7030000010" and parsed["rows"][0]["spend"] == "2.0200000000"
    budgets = io.StringIO()
    render(budgets_report(database_url, lake), "csv", stdout=budgets)
    exceeded = next(csv_module.DictReader(io.StringIO(budgets.getvalue())))
    assert exceeded["name"] == "search" and exceeded["first_exceeded_at"] == "2026-04-01T00:00:00Z"
    assert exceeded["ledger_spend"] == "0.6830000000" and exceeded["max_budget"] == "0.5000000000"


def test_warehouse_views(lake: Path, cli_env: dict[str, str]) -> None:
    import duckdb

    from llmusage.lake.warehouse import build

    target = Path(cli_env["LLMUSAGE_HOME"]) / "warehouse.duckdb"
    build(lake, target)
    with duckdb.connect(str(target), read_only=True) as duck:
        march = duck.sql(
            "SELECT sum(BilledCost) FROM chargeback_lines WHERE BillingPeriodStart = TIMESTAMPTZ '2026-03-01 00:00:00+00'"
        ).fetchall()[0][0]
        assert march == MARCH
        assert duck.sql("SELECT count(*) FROM spend_lines").fetchall()[0][0] == 7
        anomalies = duck.sql(
            "SELECT entity_type, entity_id, day FROM spend_anomalies ORDER BY ALL"
        ).fetchall()
        assert ("team", "team-y", date(2026, 3, 12)) in anomalies
        team_day = duck.sql(
            "SELECT team, sum(spend) FROM spend_by_team_day GROUP BY team ORDER BY team"
        ).fetchall()
        assert dict(team_day)["mobile"] == pytest.approx(2.02)


# The command line, as a user runs it ---------------------------------------------------------------


def test_cli_spend_formats_and_empty_range(lake: Path, cli_env: dict[str, str], tmp_path: Path) -> None:
    csv = run_cli("report", "spend", "--by", "team,model", env=cli_env)  # piped: CSV by default
    assert csv.returncode == 0, csv.stderr
    assert (
        csv.stdout.splitlines()[0] == "team,model,requests,failed_requests,cached_requests,tokens,spend,share"
    )
    md = run_cli("report", "spend", "--by", "org", "--format", "md", env=cli_env)
    assert "| Beta | 3 |" in md.stdout and "| **TOTAL** |" in md.stdout
    out = tmp_path / "spend.json"
    written = run_cli(
        "report", "spend", "--by", "tag:env", "--format", "json", "--out", str(out), env=cli_env
    )
    assert written.returncode == 0 and json.loads(out.read_text())["totals"]["requests"] == 7
    empty = run_cli(
        "report", "spend", "--from", "2020-01-01", "--to", "2020-01-31", "--format", "table", env=cli_env
    )
    assert empty.returncode == 0 and "no spend in range 2020-01-01 to 2020-01-31" in empty.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("report", "spend", "--by", "team;DROP TABLE spend_logs"),
        ("report", "spend", "--where", "team) OR (1=1"),
        ("report", "spend", "--from", "2026-13-01"),
        ("report", "spend", "--out", "/nonexistent-dir/spend.csv"),
        ("chargeback", "--month", "2026-3"),
        ("chargeback", "--month", "2026-03", "--out", "/dev/null"),
        ("chargeback", "--month", "2026-02"),  # closed and empty: needs --allow-empty
    ],
)
def test_cli_bad_input_is_one_line(lake: Path, cli_env: dict[str, str], args: tuple[str, ...]) -> None:
    result = run_cli(*args, env=cli_env)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("llmusage: error: ")


def test_cli_chargeback_creates_its_directory_and_refuses_an_empty_closed_month(
    lake: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "new" / "dir"
    done = run_cli("chargeback", "--month", "2026-03", "--out", str(out), env=cli_env)
    assert done.returncode == 0, done.stderr
    check_statement(out / "2026-03" / "team")
    empty = run_cli("chargeback", "--month", "2026-02", "--out", str(out), env=cli_env)
    assert empty.returncode == 1 and "--allow-empty" in empty.stderr
    assert not (out / "2026-02").exists()
    allowed = run_cli("chargeback", "--month", "2026-02", "--out", str(out), "--allow-empty", env=cli_env)
    assert allowed.returncode == 0 and "closed (frozen)" in allowed.stdout
    assert json.loads((out / "2026-02" / "team" / "manifest.json").read_text())["lines"] == 0


def test_cli_filters_sort_limit_and_top(lake: Path, cli_env: dict[str, str]) -> None:
    typo = run_cli("report", "spend", "--where", "team=serch", env=cli_env)
    assert typo.returncode == 1 and "did you mean 'search'" in typo.stderr
    by_email = run_cli("report", "spend", "--by", "user", "--where", "user=u2@example.com", env=cli_env)
    assert by_email.returncode == 0 and by_email.stdout.splitlines()[1].startswith("u2@example.com,3,")
    limited = run_cli("report", "spend", "--by", "model", "--sort", "model", "--limit", "2", env=cli_env)
    assert [line.split(",")[0] for line in limited.stdout.splitlines()[1:]] == ["claude-sonnet-4", "gpt-4o"]
    ranked = run_cli("report", "top", "--by", "model", "--where", "team=mobile", "--n", "1", env=cli_env)
    assert ranked.returncode == 0 and ranked.stdout.splitlines()[1].startswith("1,gpt-4o,")


def test_cli_chargeback_and_chart(lake: Path, cli_env: dict[str, str]) -> None:
    first = run_cli("chargeback", "--month", "2026-03", "--by", "org", env=cli_env)
    assert first.returncode == 0, first.stderr
    assert "$3.37 USD; closed (frozen)" in first.stdout
    directory = Path(cli_env["LLMUSAGE_HOME"]) / "exports" / "chargeback" / "2026-03" / "org"
    check_statement(directory)
    before = (directory / "chargeback.csv").read_bytes()
    again = run_cli("chargeback", "--month", "2026-03", "--by", "org", env=cli_env)
    assert "left unchanged" in again.stdout and (directory / "chargeback.csv").read_bytes() == before
    chart_path = Path(cli_env["LLMUSAGE_HOME"]) / "c.png"
    drawn = run_cli("report", "chart", "--by", "team", "--out", str(chart_path), env=cli_env)
    assert drawn.returncode == 0 and chart_path.read_bytes()[:4] == b"\x89PNG"
    empty = run_cli(
        "report", "chart", "--from", "2020-01-01", "--to", "2020-01-02", "--out", str(chart_path), env=cli_env
    )
    assert (
        empty.returncode == 0
        and "no spend in range 2020-01-01 to 2020-01-02; no chart written" in empty.stdout
    )
