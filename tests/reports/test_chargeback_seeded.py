"""Chargeback and spend reports over seeded traffic (with anomalies: late rows, a deleted key, logs
without a team) equal PostgreSQL's own sums to the cent, per month and per team."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import psycopg
import pytest

from llmusage.lake.dims import snapshot_dims
from llmusage.lake.extract import extract
from llmusage.reports.chargeback import CENT, chargeback
from llmusage.reports.spend import spend
from support.focus_rules import check_statement

END = datetime(2026, 3, 5)


@pytest.fixture(scope="module")
def lake(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmusage.devtools.seed import SeedOptions, seed

    with psycopg.connect(database_url) as conn:
        seed(conn, SeedOptions(logs=20_000, days=40, seed=11, end=END, anomalies=True, reset=True))
    lake_dir = tmp_path_factory.mktemp("lake")
    extract(database_url, lake_dir)
    snapshot_dims(database_url, lake_dir)
    return lake_dir


def _pg(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def test_each_month_equals_postgres_to_the_cent(lake: Path, database_url: str, tmp_path: Path) -> None:
    months = _pg(
        database_url,
        """SELECT to_char(created_at, 'YYYY-MM'), team_id, sum(spend), count(*)
           FROM "LiteLLM_SpendLogs" GROUP BY 1, 2""",
    )
    assert {m for m, *_ in months} == {"2026-01", "2026-02", "2026-03"}
    for month in ("2026-01", "2026-02", "2026-03"):
        statement = chargeback(lake, month, "team", out=tmp_path)
        expected = {team: (spent, n) for m, team, spent, n in months if m == month}
        assert _cents(statement.total) == _cents(sum(s for s, _ in expected.values())), month
        assert statement.requests == sum(n for _, n in expected.values())
        lines = check_statement(statement.directory)
        check_statement(chargeback(lake, month, "org", out=tmp_path).directory)
        per_team = lines.group_by("SubAccountId").agg(pl.col("BilledCost").sum(), pl.col("x_Requests").sum())
        for team, cost, requests in per_team.iter_rows():
            assert _cents(cost) == _cents(expected[team][0]) and requests == expected[team][1], (month, team)


def test_spend_report_equals_postgres(lake: Path, database_url: str) -> None:
    expected = dict(
        _pg(
            database_url,
            """SELECT COALESCE(NULLIF(u.user_email, ''), l."user"), sum(l.spend)
               FROM "LiteLLM_SpendLogs" l LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = l."user"
               WHERE l."user" IS NOT NULL GROUP BY 1""",
        )
    )
    got = {r["user"]: r["spend"] for r in spend(lake, "user").iter_rows(named=True)}
    for user, amount in expected.items():
        assert got[user] == pytest.approx(amount, rel=1e-12, abs=1e-9)
