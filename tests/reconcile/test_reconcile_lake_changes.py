"""A lake that changed under reconciliation: a row the lake lost before the cutoff is drift on exactly the
entities it counted for, by exactly its spend; a log added to an already extracted day, once re-extracted,
rebuilds that day's rollup and is counted; and the crossing instant of a lifetime budget over the lake is
PostgreSQL's own running sum."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from llmusage.devtools.seed import SeedOptions, seed
from llmusage.lake.extract import ExtractOptions, extract
from llmusage.lake.layout import spend_log_partitions
from llmusage.reconcile import ReconcileOptions, reconcile

END = datetime(2026, 6, 1)
AS_OF = END


@pytest.fixture
def lake(database_url: str, tmp_path: Path) -> Path:
    with psycopg.connect(database_url) as conn:
        seed(conn, SeedOptions(logs=6_000, days=6, seed=23, end=END, reset=True))
    lake_dir = tmp_path / "lake"
    extract(database_url, lake_dir)
    return lake_dir


def _rows(url: str, lake: Path) -> dict[tuple[str, str], dict]:
    result = reconcile(url, lake, ReconcileOptions(as_of=AS_OF))
    return {(r["entity_type"], r["entity_id"]): r for r in result.entities.iter_rows(named=True)}


def test_a_row_the_lake_lost_is_drift_on_its_entities(database_url: str, lake: Path) -> None:
    before = _rows(database_url, lake)
    assert all(r["drift_ok"] for r in before.values())
    day = date(2026, 5, 28)  # well before the cutoff (the last day's newest row minus 2 h)
    path = sorted(spend_log_partitions(lake)[day].glob("*.parquet"))[0]
    table = pq.read_table(path)
    costliest = pc.index(table.column("spend"), pc.max(table.column("spend")).as_py()).as_py()
    lost = table.slice(costliest, 1).to_pylist()[0]
    pq.write_table(table.filter(pc.invert(pc.equal(table.column("request_id"), lost["request_id"]))), path)

    after = _rows(database_url, lake)
    drifted = {k: r for k, r in after.items() if not r["drift_ok"]}
    counted = {("key", lost["api_key"]), ("user", lost["user_id"]), ("team", lost["team_id"])}
    if lost.get("organization_id"):
        counted.add(("organization", lost["organization_id"]))
    assert set(drifted) == {k for k in counted if k[1] is not None}
    for key, row in drifted.items():
        assert row["drift"] == pytest.approx(lost["spend"], rel=1e-9), key
        assert row["ledger_spend"] == pytest.approx(before[key]["ledger_spend"] - lost["spend"], rel=1e-9)
        assert row["drift_cause"] == "unexplained"


def test_a_late_log_on_an_extracted_day_is_counted_after_re_extract(database_url: str, lake: Path) -> None:
    before = _rows(database_url, lake)
    rollup = lake / "rollups" / "spend_daily" / "date=2026-05-27"
    stamp = {p: p.stat().st_mtime_ns for p in rollup.glob("*.parquet")}
    assert stamp  # the first reconciliation built the day's rollup
    with psycopg.connect(database_url) as conn:
        key, user, team = conn.execute(
            """SELECT token, user_id, team_id FROM "LiteLLM_VerificationToken"
               WHERE team_id IS NOT NULL AND user_id IS NOT NULL ORDER BY token LIMIT 1"""
        ).fetchone()
        conn.execute(
            """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, "user", team_id, created_at)
               VALUES ('late-1', %s, 'gpt-4o-mini', 3.25, %s, %s, %s)""",
            (key, user, team, datetime(2026, 5, 27, 12) + timedelta(seconds=1)),
        )
        for table, column, entity in (
            ('"LiteLLM_VerificationToken"', "token", key),
            ('"LiteLLM_UserTable"', "user_id", user),
            ('"LiteLLM_TeamTable"', "team_id", team),
        ):
            conn.execute(f"UPDATE {table} SET spend = spend + 3.25 WHERE {column} = %s", (entity,))
    # before re-extracting, the late row is not in the lake: the tail does not reach back to that day
    stale = _rows(database_url, lake)[("key", key)]
    assert stale["drift"] == pytest.approx(3.25) and not stale["drift_ok"]

    # a no-argument extract looks back only the lag window (lake/extract.py): a day this old is re-extracted
    # explicitly, as `llmusage extract --date 2026-05-27` does
    extract(database_url, lake, ExtractOptions(days=(date(2026, 5, 27), date(2026, 5, 27))))
    after = _rows(database_url, lake)
    assert {
        p: p.stat().st_mtime_ns for p in rollup.glob("*.parquet")
    } != stamp  # the day's rollup was rebuilt
    for kind, entity in (("key", key), ("user", user), ("team", team)):
        row = after[(kind, entity)]
        assert row["ledger_spend"] == pytest.approx(before[(kind, entity)]["ledger_spend"] + 3.25, rel=1e-9)
        assert row["drift_ok"], (kind, entity)


def test_lifetime_crossing_over_the_lake_is_postgres_running_sum(database_url: str, lake: Path) -> None:
    with psycopg.connect(database_url) as conn:
        team, total = conn.execute(
            """SELECT team_id, sum(spend) FROM "LiteLLM_SpendLogs" WHERE team_id IS NOT NULL
               GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"""
        ).fetchone()
        budget = float(total) * 0.37
        conn.execute('UPDATE "LiteLLM_TeamTable" SET max_budget = %s WHERE team_id = %s', (budget, team))
        crossed = conn.execute(
            """SELECT min(created_at) FROM (
                   SELECT created_at, sum(sum(spend)) OVER (ORDER BY created_at) AS running
                   FROM "LiteLLM_SpendLogs" WHERE team_id = %s GROUP BY created_at) AS r
               WHERE running >= %s - 1e-6""",
            (team, budget),
        ).fetchone()[0]
    row = _rows(database_url, lake)[("team", team)]
    assert row["status"] == "exceeded" and row["first_exceeded_at"] == crossed
