"""LiteLLM's daily spend tables against the logs (`llmusage.reconcile.daily_tables`), on the realistic scenario of
`llmusage.devtools.seed.litellm`: a database built by LiteLLM's own migrations, with retention (logs older than
30 days deleted, their spend kept in the daily rows), tag fan-out and failures that left no log while
`disable_error_logs` was on. Every table's difference must be split into exactly the scenario's causes, with
nothing unexplained; a tampered row must show as unexplained on its table and day; the CLI and the Dagster
check say the same."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from llmusage.devtools.seed.litellm import LitellmScenario, seed_litellm
from llmusage.errors import LlmusageError
from llmusage.lake.extract import extract
from llmusage.reconcile.daily_tables import (
    DAILY_TABLES,
    NOT_LITELLM,
    TAG_TABLE,
    DailyTablesReport,
    NotLitellmDatabase,
    reconcile_daily_tables,
)
from support.db import cli_env_for, run_cli

NOW = datetime(2026, 11, 18, 14, 30)
CENT = 0.01
EDGE = "2026-10-19"  # the retention cutoff's day (NOW - 30 days): its logs before 14:30 were deleted


@pytest.fixture(scope="module")
def seeded(
    litellm_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LitellmScenario, Path]:
    with psycopg.connect(litellm_database_url) as conn:
        scenario = seed_litellm(conn, now=NOW, seed=7)
    home = tmp_path_factory.mktemp("home")
    extract(litellm_database_url, home / "lake")
    return scenario, home


@pytest.fixture(scope="module")
def report(seeded: tuple[LitellmScenario, Path], litellm_database_url: str) -> DailyTablesReport:
    _, home = seeded
    return reconcile_daily_tables(litellm_database_url, home / "lake", as_of=NOW)


def _surviving_fan_out(url: str) -> tuple[int, float]:
    """Tag fan-out of the logs still in the table, computed here straight from LiteLLM's rows."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """SELECT sum(jsonb_array_length(request_tags) - 1), sum(spend * (jsonb_array_length(request_tags) - 1))
               FROM "LiteLLM_SpendLogs" WHERE jsonb_array_length(request_tags) > 0"""
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


def _unlogged_tag_failures(url: str) -> int:
    """Failures the tag rows count (once per tag) beyond the failed logs' tags, after the retention edge."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """SELECT (SELECT sum(failed_requests) FROM "LiteLLM_DailyTagSpend" WHERE date > %(edge)s)
                    - (SELECT COALESCE(sum(jsonb_array_length(request_tags)), 0) FROM "LiteLLM_SpendLogs"
                       WHERE status = 'failure' AND "startTime" >= CAST(%(edge)s AS date) + 1)""",
            {"edge": EDGE},
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_totals_match_the_scenario_table_by_table(
    seeded: tuple[LitellmScenario, Path], report: DailyTablesReport
) -> None:
    scenario, _ = seeded
    assert [t.table for t in report.tables] == list(DAILY_TABLES)
    assert report.missing_tables == []
    for gap in scenario.daily_gaps:
        got = report.table(gap.table).total
        assert got.daily_spend == pytest.approx(gap.daily_spend, abs=CENT), gap.table
        assert got.logs_spend == pytest.approx(gap.logs_spend, abs=CENT), gap.table
        assert (got.daily_requests, got.logs_requests) == (gap.daily_requests, gap.logs_requests), gap.table
        # the whole difference is explained, and by as much as the scenario's causes add up to
        assert sum(got.spend_causes.values()) == pytest.approx(sum(gap.spend_causes.values()), abs=CENT)
        assert sum(got.request_causes.values()) == sum(gap.request_causes.values()), gap.table
        assert got.unexplained_spend == 0.0 and got.unexplained_requests == 0, gap.table
        assert got.request_causes.get("unlogged_failures", 0) == gap.request_causes.get(
            "unlogged_failures", 0
        )
        assert "current_day" not in got.request_causes and "current_day" not in got.spend_causes
    assert report.explained and not report.unexplained_days()


def test_causes_match_the_scenario(
    seeded: tuple[LitellmScenario, Path], report: DailyTablesReport, litellm_database_url: str
) -> None:
    scenario, _ = seeded
    for gap in scenario.daily_gaps:
        got = report.table(gap.table).total
        if gap.table != TAG_TABLE:
            assert got.request_causes == gap.request_causes, gap.table
            assert got.spend_causes.keys() == gap.spend_causes.keys(), gap.table
            for cause, spend in gap.spend_causes.items():
                assert got.spend_causes[cause] == pytest.approx(spend, abs=CENT), (gap.table, cause)
            continue
        # The tag table. The scenario's `tag_fan_out` includes the fan-out of logs that retention deleted, which
        # no one can see any more: llmusage counts the fan-out of the surviving logs (plus that of the unlogged
        # failures, whose other tags the tag rows count as failures too), and the deleted logs' fan-out lands
        # in `retention` with the rest of the deleted days. So: the fan-out is exactly the surviving logs' (from
        # LiteLLM's rows here) plus the unlogged failures' other tags; retention takes exactly what the
        # scenario's fan-out has beyond that; unlogged failures are the scenario's, request for request.
        fan_requests, fan_spend = _surviving_fan_out(litellm_database_url)
        unlogged = gap.request_causes["unlogged_failures"]
        assert got.request_causes["unlogged_failures"] == unlogged
        assert (
            got.request_causes["tag_fan_out"]
            == fan_requests + _unlogged_tag_failures(litellm_database_url) - unlogged
        )
        assert got.spend_causes["tag_fan_out"] == pytest.approx(fan_spend, abs=CENT)
        deleted_fan_out = gap.request_causes["tag_fan_out"] - got.request_causes["tag_fan_out"]
        assert deleted_fan_out > 0  # the scenario does delete tagged logs
        assert got.request_causes["retention"] == gap.request_causes["retention"] + deleted_fan_out
        deleted_fan_spend = gap.spend_causes["tag_fan_out"] - got.spend_causes["tag_fan_out"]
        assert got.spend_causes["retention"] == pytest.approx(
            gap.spend_causes["retention"] + deleted_fan_spend, abs=CENT
        )


def test_days_are_placed_around_the_oldest_log_and_the_current_day(report: DailyTablesReport) -> None:
    assert report.history_day == date.fromisoformat(EDGE)
    for table in report.tables:
        for day in table.days:
            expected = (
                "before_history"
                if day.day < report.history_day
                else "history_edge"
                if day.day == report.history_day
                else "current"
                if day.day >= NOW.date()
                else "settled"
            )
            assert day.position == expected, (table.table, day.day)
            if day.position == "before_history":  # nothing left to compare: all of it is retention
                assert day.logs_requests == 0 and day.request_causes == {"retention": day.daily_requests}
            if day.position == "settled":
                assert "retention" not in day.request_causes


def test_without_a_lake_postgresql_alone_gives_the_same_report(
    report: DailyTablesReport, litellm_database_url: str, tmp_path: Path
) -> None:
    alone = reconcile_daily_tables(litellm_database_url, tmp_path / "no-lake", as_of=NOW)
    assert alone.lake_cutoff is None
    for mine, theirs in zip(alone.tables, report.tables, strict=True):
        assert mine.total.request_causes == theirs.total.request_causes
        assert mine.total.logs_spend == pytest.approx(theirs.total.logs_spend, abs=1e-9)
        assert mine.explained


@pytest.mark.parametrize(
    ("table", "column", "delta"),
    [("LiteLLM_DailyTeamSpend", "spend", 1.25), (TAG_TABLE, "api_requests", 3)],
)
def test_a_tampered_row_is_unexplained_on_its_table_and_day(
    seeded: tuple[LitellmScenario, Path], litellm_database_url: str, table: str, column: str, delta: float
) -> None:
    _, home = seeded
    day = "2026-11-17"
    names = {"table": sql.Identifier(table), "column": sql.Identifier(column)}
    with psycopg.connect(litellm_database_url) as conn:
        row_id, before = conn.execute(
            sql.SQL("SELECT id, {column} FROM {table} WHERE date = %s ORDER BY id LIMIT 1").format(**names),
            (day,),
        ).fetchone()
        conn.execute(
            sql.SQL("UPDATE {table} SET {column} = {column} + %s WHERE id = %s").format(**names),
            (delta, row_id),
        )
    try:
        tampered = reconcile_daily_tables(litellm_database_url, home / "lake", as_of=NOW)
        bad = tampered.unexplained_days()
        assert [(g.table, g.day) for g in bad] == [(table, date.fromisoformat(day))]
        assert not tampered.explained and not tampered.table(table).explained
        if column == "spend":
            assert bad[0].unexplained_spend == pytest.approx(delta, abs=1e-9)
            assert bad[0].unexplained_requests == 0
            assert tampered.table(table).total.unexplained_spend == pytest.approx(delta, abs=1e-9)
        else:
            assert (bad[0].unexplained_requests, bad[0].unexplained_spend) == (delta, 0.0)
    finally:
        with psycopg.connect(litellm_database_url) as conn:
            conn.execute(
                sql.SQL("UPDATE {table} SET {column} = %s WHERE id = %s").format(**names), (before, row_id)
            )


def test_an_llmusage_database_is_one_clear_error(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(NotLitellmDatabase, match=NOT_LITELLM) as raised:
        reconcile_daily_tables(database_url, tmp_path / "lake")
    assert isinstance(raised.value, LlmusageError)
    assert str(raised.value) == "not a LiteLLM database: it has no daily spend tables"


def test_cli_exit_codes(
    seeded: tuple[LitellmScenario, Path], litellm_database_url: str, cli_env: dict[str, str]
) -> None:
    _, home = seeded
    env = cli_env_for(litellm_database_url, home)
    shown = run_cli("reconcile-daily", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "LiteLLM_DailyTagSpend" in shown.stdout and "tag_fan_out" in shown.stdout
    out = run_cli("reconcile-daily", "--format", "json", env=env)
    assert out.returncode == 0, out.stderr
    parsed = json.loads(out.stdout)
    assert parsed["explained"] is True
    assert [t["table"] for t in parsed["tables"]] == list(DAILY_TABLES)

    with psycopg.connect(litellm_database_url) as conn:
        row_id, before = conn.execute(
            """SELECT id, spend FROM "LiteLLM_DailyUserSpend" WHERE date = '2026-11-16' ORDER BY id LIMIT 1"""
        ).fetchone()
        conn.execute("""UPDATE "LiteLLM_DailyUserSpend" SET spend = spend + 2 WHERE id = %s""", (row_id,))
    try:
        failed = run_cli("reconcile-daily", env=env)
        assert failed.returncode == 1
        assert failed.stderr.count("\n") == 1 and "unexplained" in failed.stderr
        assert "LiteLLM_DailyUserSpend" in failed.stderr and "Traceback" not in failed.stderr
    finally:
        with psycopg.connect(litellm_database_url) as conn:
            conn.execute("""UPDATE "LiteLLM_DailyUserSpend" SET spend = %s WHERE id = %s""", (before, row_id))

    refused = run_cli("reconcile-daily", env=cli_env)  # an llmusage database
    assert refused.returncode == 1
    assert refused.stderr == "llmusage: error: not a LiteLLM database: it has no daily spend tables\n"


def test_dagster_check(
    seeded: tuple[LitellmScenario, Path], litellm_database_url: str, database_url: str
) -> None:
    import dagster as dg

    from pipelines.checks import daily_tables_agree_with_logs
    from pipelines.resources import LakeResource, PostgresResource

    _, home = seeded
    lake = LakeResource(home=str(home))
    result = daily_tables_agree_with_logs(
        postgres=PostgresResource(database_url=litellm_database_url), lake=lake
    )
    assert result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert "| LiteLLM_DailyTagSpend |" in result.metadata["tables"].value
    assert result.metadata["unexplained_days"].value == 0
    plain = daily_tables_agree_with_logs(postgres=PostgresResource(database_url=database_url), lake=lake)
    assert plain.passed and "no daily spend tables" in plain.metadata["daily_tables"].value
