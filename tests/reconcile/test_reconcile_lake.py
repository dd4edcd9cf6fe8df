"""Reconciliation over a real lake: the seeded anomalies are found, a lake that is behind PostgreSQL is
not mistaken for drift, and the lake-plus-tail ledger equals PostgreSQL's own sums."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from llmusage.devtools.seed import SeedOptions, seed
from llmusage.lake.extract import extract
from llmusage.reconcile import reconcile, write_back

END = datetime(2026, 4, 1)


@pytest.fixture(scope="module")
def seeded(database_url: str, tmp_path_factory: pytest.TempPathFactory):
    with psycopg.connect(database_url) as conn:
        report = seed(conn, SeedOptions(logs=40_000, days=10, seed=9, end=END, anomalies=True, reset=True))
    lake = tmp_path_factory.mktemp("lake")
    extract(database_url, lake)
    return report, lake


def _pg_ledger(url: str) -> dict[tuple[str, str], float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT 'key', api_key, sum(spend) FROM "LiteLLM_SpendLogs" GROUP BY 2
               UNION ALL SELECT 'team', team_id, sum(spend) FROM "LiteLLM_SpendLogs" WHERE team_id IS NOT NULL GROUP BY 2
               UNION ALL SELECT 'user', "user", sum(spend) FROM "LiteLLM_SpendLogs" WHERE "user" IS NOT NULL GROUP BY 2
               UNION ALL SELECT 'organization', COALESCE(t.organization_id, u.organization_id), sum(l.spend)
                 FROM "LiteLLM_SpendLogs" l LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = l.team_id
                 LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = l."user"
                 WHERE COALESCE(t.organization_id, u.organization_id) IS NOT NULL GROUP BY 2"""
        ).fetchall()
    return {(t, e): s for t, e, s in rows}


def test_ledger_over_the_lake_equals_postgres(seeded, database_url: str) -> None:
    _, lake = seeded
    result = reconcile(database_url, lake)
    assert result.cutoff is not None and result.lake_days == 10
    assert 0 < result.tail_rows < 40_000  # the last day from PostgreSQL, the rest from the lake
    expected = _pg_ledger(database_url)
    got = {
        (r["entity_type"], r["entity_id"]): r["ledger_spend"] for r in result.entities.iter_rows(named=True)
    }
    assert {kind for kind, _ in expected} == {"key", "user", "team", "organization"}
    for key, amount in expected.items():
        assert got[key] == pytest.approx(amount, rel=1e-9, abs=1e-9), key
    for kind in ("user", "team", "organization"):  # nobody the logs do not name has a ledger of their own
        extra = {k for k, v in got.items() if k[0] == kind and k not in expected and v}
        assert not extra, extra
    assert int(result.entities.filter(result.entities["entity_type"] == "key")["requests"].sum()) == 40_000


def test_seeded_anomalies_are_found(seeded, database_url: str) -> None:
    report, lake = seeded
    result = reconcile(database_url, lake)
    rows = {(r["entity_type"], r["entity_id"]): r for r in result.entities.iter_rows(named=True)}
    drifted = {k for k, r in rows.items() if not r["drift_ok"] and r["status"] != "orphaned"}
    assert drifted == {(a.entity_type, a.entity_id) for a in report.anomalies if a.kind == "drift"}
    exceeded = {k for k, r in rows.items() if r["status"] == "exceeded"}
    assert {(a.entity_type, a.entity_id) for a in report.anomalies if a.kind == "over_budget"} <= exceeded
    deleted = next(a for a in report.anomalies if a.kind == "deleted_key")
    orphan = rows[("key", deleted.entity_id)]
    assert orphan["status"] == "orphaned" and orphan["ledger_spend"] == pytest.approx(
        deleted.detail["ledger"]
    )
    for key in exceeded:
        assert rows[key]["first_exceeded_at"] is not None and rows[key]["first_exceeded_at"] < END


def test_a_lake_behind_postgres_is_not_drift(seeded, database_url: str, tmp_path: Path) -> None:
    """New logs (and their spend) arrive after the extract, on the last day and on a new day."""
    _, lake = seeded
    before = reconcile(database_url, lake)
    drift_before = before.entities.filter(~before.entities["drift_ok"]).height
    with psycopg.connect(database_url) as conn:
        key, team = conn.execute(
            'SELECT token, team_id FROM "LiteLLM_VerificationToken" WHERE team_id IS NOT NULL ORDER BY token LIMIT 1'
        ).fetchone()
        for i, moment in enumerate((END - timedelta(minutes=5), END + timedelta(hours=3))):
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, team_id, created_at)
                   VALUES (%s, %s, 'gpt-4o-mini', 2.5, %s, %s)""",
                (f"late-{i}", key, team, moment),
            )
        conn.execute('UPDATE "LiteLLM_VerificationToken" SET spend = spend + 5 WHERE token = %s', (key,))
        conn.execute('UPDATE "LiteLLM_TeamTable" SET spend = spend + 5 WHERE team_id = %s', (team,))
    try:
        after = reconcile(database_url, lake)
        assert after.entities.filter(~after.entities["drift_ok"]).height == drift_before
        row = after.entities.filter(after.entities["entity_id"] == key).row(0, named=True)
        old = before.entities.filter(before.entities["entity_id"] == key).row(0, named=True)
        assert row["ledger_spend"] == pytest.approx(old["ledger_spend"] + 5.0)
    finally:  # the seeded data as it was, for the tests that run after this one
        with psycopg.connect(database_url) as conn:
            conn.execute("""DELETE FROM "LiteLLM_SpendLogs" WHERE request_id IN ('late-0', 'late-1')""")
            conn.execute('UPDATE "LiteLLM_VerificationToken" SET spend = spend - 5 WHERE token = %s', (key,))
            conn.execute('UPDATE "LiteLLM_TeamTable" SET spend = spend - 5 WHERE team_id = %s', (team,))


def test_write_back_on_the_seeded_data_is_idempotent(seeded, database_url: str) -> None:
    _, lake = seeded
    first = write_back(database_url, reconcile(database_url, lake))
    assert first.flagged and first.status_changes > 0
    second = write_back(database_url, reconcile(database_url, lake))
    assert second.events == 0 and second.flagged == [] and second.unflagged == []
