"""Issue 14's "done when": on seeded demo-like traffic (with anomalies: a deleted key, logs without a team),
for one month, `report spend --by team`, `chargeback --by team` and reconcile's ledger agree to the cent,
per team and in total; the same for organizations.

The traffic is seeded inside one month (February 2026), so that the ledger reconciliation keeps for a
lifetime budget (every log of the entity) is that month's; entities whose budget has a `budget_duration`
are compared only through the reports (their ledger covers their current period, not the month).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import psycopg
import pytest

from llmusage.lake.dims import snapshot_dims
from llmusage.lake.extract import extract
from llmusage.reconcile import reconcile
from llmusage.reports.chargeback import CENT, chargeback
from llmusage.reports.spend import spend
from support.focus_rules import check_statement

MONTH, FIRST, LAST = "2026-02", date(2026, 2, 1), date(2026, 2, 28)


@pytest.fixture(scope="module")
def lake(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmusage.devtools.seed import SeedOptions, seed

    with psycopg.connect(database_url) as conn:
        seed(
            conn,
            SeedOptions(logs=8_000, days=28, seed=14, end=datetime(2026, 3, 1), anomalies=True, reset=True),
        )
        months = conn.execute("""SELECT DISTINCT to_char(created_at, 'YYYY-MM') FROM "LiteLLM_SpendLogs" """)
        assert [m for (m,) in months] == [MONTH]
    lake_dir = tmp_path_factory.mktemp("lake")
    extract(database_url, lake_dir)
    snapshot_dims(database_url, lake_dir)
    return lake_dir


def _cents(value: float | Decimal) -> Decimal:
    return (value if isinstance(value, Decimal) else Decimal(repr(value))).quantize(CENT)


@pytest.mark.parametrize(
    ("by", "kind", "none"), [("team", "team", "(no team)"), ("org", "organization", "(no org)")]
)
def test_report_chargeback_and_ledger_agree_to_the_cent(
    lake: Path, database_url: str, tmp_path: Path, by: str, kind: str, none: str
) -> None:
    report = {name: amount for name, amount in spend(lake, by, FIRST, LAST).select(by, "spend").iter_rows()}
    statement = chargeback(lake, MONTH, by, out=tmp_path)
    lines = check_statement(statement.directory)
    charged = {
        name if name is not None else none: amount
        for name, amount in lines.group_by("SubAccountName").agg(pl.col("BilledCost").sum()).iter_rows()
    }
    assert set(charged) == set(report) and none in report  # logs without a team / an organization
    for name, amount in report.items():
        assert _cents(amount) == _cents(charged[name]), (by, name)
    assert _cents(sum(report.values())) == _cents(statement.total)

    entities = reconcile(database_url, lake).entities.filter(pl.col("entity_type") == kind)
    lifetime = entities.filter(pl.col("budget_duration").is_null())
    assert lifetime.height > 0
    compared = 0
    for name, ledger in lifetime.select("name", "ledger_spend").iter_rows():
        assert _cents(ledger or 0.0) == _cents(charged.get(name, Decimal(0))), (kind, name)
        compared += name in charged
    assert compared > 0
    # and every sub-account with spend is one of reconciliation's entities (or the logs' "none")
    assert set(charged) - {none} <= set(entities["name"])
