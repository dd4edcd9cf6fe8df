"""Reconciliation and write-back on a LiteLLM database (built by LiteLLM's own migrations), entity by entity.

The rows are written as LiteLLM writes them: '' for absent ids, event time in "startTime", an organization's
budget in its LiteLLM_BudgetTable row, `spend` the current period's counter (the reset job zeroed it at the
last reset), a key's budget through `budget_id`, retention having deleted old logs. Each entity's expected
status is what LiteLLM's own pre-call check decides for its next request: refused (`exceeded`) once the
period's spend reaches the budget.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from llmusage.errors import LlmusageError
from llmusage.lake.extract import extract
from llmusage.pg.migrations import migrate
from llmusage.reconcile import ReconcileOptions, reconcile, write_back
from llmusage.reconcile.apply import REPAIR_REFUSED
from support.db import run_cli

NOW = datetime.utcnow().replace(microsecond=0)


def _token(name: str) -> str:
    return hashlib.sha256(f"sk-test-{name}".encode()).hexdigest()


def _budget(conn: psycopg.Connection, budget_id: str, max_budget: float, duration: str | None = None,
            reset_at: datetime | None = None, soft: float | None = None) -> None:  # fmt: skip
    conn.execute(
        """INSERT INTO "LiteLLM_BudgetTable" (budget_id, max_budget, soft_budget, budget_duration, budget_reset_at,
               created_by, updated_by) VALUES (%s, %s, %s, %s, %s, 'admin', 'admin')""",
        (budget_id, max_budget, soft, duration, reset_at),
    )


def _log(conn: psycopg.Connection, rid: str, key: str, spend: float, start: datetime, *, user: str = "",
         team: str = "", org: str = "") -> None:  # fmt: skip
    conn.execute(
        """INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens,
               completion_tokens, "startTime", "endTime", model, model_group, custom_llm_provider, "user", team_id,
               organization_id, metadata, cache_hit, request_tags, status, end_user)
           VALUES (%s, 'acompletion', %s, %s, 30, 20, 10, %s, %s, 'azure/gpt-4o-eu', 'gpt-4o', 'azure', %s, %s, %s,
                   '{}', 'False', '["prod"]', 'success', '')""",
        (rid, key, spend, start, start + timedelta(seconds=2), user, team, org),
    )


@pytest.fixture(scope="module")
def litellm_db(litellm_database_url: str) -> str:
    day = timedelta(days=1)
    with psycopg.connect(litellm_database_url) as conn:
        _budget(conn, "b-org", 100.0, "30d", NOW + 10 * day)
        conn.execute(
            """INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias, budget_id, spend,
                   created_by, updated_by) VALUES ('org-a', 'Org A', 'b-org', 120, 'admin', 'admin')"""
        )
        teams = [  # id, max_budget, soft, duration, reset_at, spend (the current period's counter)
            ("t-over", 50.0, None, None, None, 60.0),
            ("t-reset", 50.0, None, "7d", NOW + 3 * day, 10.0),
            ("t-soft", 100.0, 20.0, None, None, 30.0),
            ("t-free", None, None, None, None, 50.0),
        ]
        for team, budget, soft, duration, reset_at, spend in teams:
            conn.execute(
                """INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id, max_budget, soft_budget,
                       budget_duration, budget_reset_at, spend) VALUES (%s, %s, 'org-a', %s, %s, %s, %s, %s)""",
                (team, team, budget, soft, duration, reset_at, spend),
            )
        for user, budget, spend in (("u-personal", 10.0, 12.0), ("u-team", 10.0, 1.0)):
            conn.execute(
                'INSERT INTO "LiteLLM_UserTable" (user_id, max_budget, spend) VALUES (%s, %s, %s)',
                (user, budget, spend),
            )
        _budget(conn, "b-key", 5.0)
        keys = [  # name, user, team, max_budget, budget_id, spend, created
            ("k-over-team", "u-team", "t-over", None, None, 60.0, NOW - 40 * day),
            ("k-reset", "u-team", "t-reset", None, None, 10.0, NOW - 40 * day),
            ("k-soft", "u-team", "t-soft", None, None, 30.0, NOW - 40 * day),
            ("k-free", "u-team", "t-free", None, None, 49.0, NOW - 40 * day),
            ("k-person", "u-team", "t-free", 1.0, None, 2.0, NOW - 40 * day),
            ("k-row", "u-personal", None, None, "b-key", 6.0, NOW - 40 * day),
            ("k-personal", "u-personal", None, None, None, 6.0, NOW - 40 * day),
            ("k-u-team-own", "u-team", None, None, None, 1.0, NOW - 40 * day),
            ("k-old", "u-personal", None, 1000.0, None, 500.0, NOW - 400 * day),
        ]
        for name, spend in (("k-lag", 3.0), ("k-lost", 0.0)):  # 7d budgets whose period began 4 days ago
            conn.execute(
                """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, max_budget, budget_duration,
                       budget_reset_at, spend, total_spend, created_at) VALUES (%s, %s, 20, '7d', %s, %s, %s, %s)""",
                (_token(name), name, NOW + 3 * day, spend, spend, NOW - 40 * day),
            )
        for name, user, team, budget, budget_id, spend, created in keys:
            conn.execute(
                """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, max_budget, budget_id,
                       spend, total_spend, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (_token(name), name, user, team, budget, budget_id, spend, spend, created),
            )
        recent = NOW - 2 * day
        _log(conn, "r1", _token("k-over-team"), 60.0, recent, user="u-team", team="t-over", org="org-a")
        _log(conn, "r2", _token("k-reset"), 200.0, NOW - 10 * day, user="u-team", team="t-reset", org="org-a")
        _log(conn, "r3", _token("k-reset"), 10.0, recent, user="u-team", team="t-reset", org="org-a")
        _log(conn, "r4", _token("k-soft"), 30.0, recent, user="u-team", team="t-soft", org="org-a")
        _log(conn, "r5", _token("k-free"), 49.0, recent, user="u-team", team="t-free")
        _log(conn, "r6", _token("k-person"), 2.0, recent, user="u-team", team="t-free")
        _log(conn, "r7", _token("k-row"), 6.0, recent, user="u-personal")
        _log(conn, "r8", _token("k-personal"), 6.0, recent, user="u-personal")
        _log(conn, "r9", _token("k-u-team-own"), 1.0, recent, user="u-team")
        _log(conn, "r10", _token("k-old"), 100.0, NOW - 20 * day, user="u-personal")  # 400 were deleted
        _log(conn, "r11", "litellm_proxy_master_key", 3.0, recent, user="default_user_id")
        period = NOW - 4 * day
        # k-lag: 5.0 two minutes into the period was counted before the reset job zeroed the counter
        _log(conn, "r12", _token("k-lag"), 5.0, period + timedelta(minutes=2))
        _log(conn, "r13", _token("k-lag"), 3.0, period + timedelta(hours=1))
        _log(conn, "r14", _token("k-lost"), 5.0, period + timedelta(hours=1))  # the counter never got it
    with psycopg.connect(litellm_database_url, autocommit=True) as conn:
        migrate(conn)  # llmusage's own schema only: LiteLLM's tables are left as they are
    return litellm_database_url


def _statuses(db: str, lake: Path) -> dict[tuple[str, str], dict]:
    extract(db, lake)
    result = reconcile(db, lake, ReconcileOptions())
    return {(r["entity_type"], r["entity_id"]): r for r in result.entities.iter_rows(named=True)}, result


def test_statuses_are_what_litellm_decides(litellm_db: str, tmp_path: Path) -> None:
    rows, _ = _statuses(litellm_db, tmp_path / "lake")
    status = {k: v["status"] for k, v in rows.items()}
    assert status[("organization", "org-a")] == "exceeded"  # 120 of its budget row's 100 (30d period)
    assert status[("team", "t-over")] == "exceeded"
    assert status[("team", "t-reset")] == "ok"  # 210 in all, 10 since the last reset
    assert rows[("team", "t-reset")]["ledger_spend"] == pytest.approx(10.0)
    assert status[("team", "t-soft")] == "warning"  # 30: over its soft budget 20, under 80% of 100
    assert status[("key", _token("k-row"))] == "exceeded"  # its budget row's 5
    assert status[("user", "u-personal")] == "exceeded"  # 12 on personal keys (k-old's period is lifetime)
    # LiteLLM refuses u-team's personal key: its budget is checked against all its spend (team keys too)
    assert status[("user", "u-team")] == "exceeded"
    assert rows[("user", "u-team")]["ledger_spend"] == pytest.approx(352.0)
    assert status[("key", _token("k-person"))] == "exceeded"
    assert status[("key", _token("k-free"))] == "ok"
    old = rows[("key", _token("k-old"))]
    assert old["drift"] == pytest.approx(400.0) and old["drift_cause"] == "retention" and old["drift_ok"]
    assert rows[("team", "t-over")]["drift_ok"]


def test_a_counter_behind_by_the_reset_jobs_lag_is_not_drift(litellm_db: str, tmp_path: Path) -> None:
    rows, _ = _statuses(litellm_db, tmp_path / "lake")
    lag, lost = rows[("key", _token("k-lag"))], rows[("key", _token("k-lost"))]
    assert (lag["ledger_spend"], lag["recorded_spend"]) == (pytest.approx(8.0), pytest.approx(3.0))
    assert (lag["drift_cause"], lag["drift_ok"], lag["status"]) == ("reset_lag", True, "ok")
    # spend an hour into the period cannot have been zeroed by the reset job: that counter lost it
    assert (lost["drift"], lost["drift_cause"], lost["drift_ok"]) == (
        pytest.approx(-5.0),
        "unexplained",
        False,
    )


def test_apply_blocks_only_over_budget_keys_and_teams_and_respects_a_persons_unblock(
    litellm_db: str, tmp_path: Path
) -> None:
    try:
        lake = tmp_path / "lake"
        _, result = _statuses(litellm_db, lake)
        report = write_back(litellm_db, result)
        assert sorted(report.flagged) == sorted(
            [("team", "t-over"), ("key", _token("k-row")), ("key", _token("k-person"))]
        )
        with psycopg.connect(litellm_db) as conn:
            blocked_keys = {
                r[0] for r in conn.execute('SELECT key_alias FROM "LiteLLM_VerificationToken" WHERE blocked')
            }
            blocked_teams = {
                r[0] for r in conn.execute('SELECT team_id FROM "LiteLLM_TeamTable" WHERE blocked')
            }
            user_meta = conn.execute(
                'SELECT metadata::text FROM "LiteLLM_UserTable" WHERE user_id = %s', ("u-personal",)
            ).fetchone()
        assert blocked_teams == {"t-over"}
        assert blocked_keys == {"k-row", "k-person"}
        assert user_meta == ("{}",)  # nothing written into LiteLLM's rows but `blocked`
        # An admin lifts the block on k-person: recorded, and not re-imposed within the period.
        with psycopg.connect(litellm_db) as conn:
            conn.execute(
                'UPDATE "LiteLLM_VerificationToken" SET blocked = false WHERE key_alias = %s', ("k-person",)
            )
        _, again = _statuses(litellm_db, lake)
        second = write_back(litellm_db, again)
        assert second.flagged == []
        with psycopg.connect(litellm_db) as conn:
            still = {
                r[0] for r in conn.execute('SELECT key_alias FROM "LiteLLM_VerificationToken" WHERE blocked')
            }
            by_person = conn.execute(
                """SELECT count(*) FROM llmusage.budget_events WHERE action = 'unflagged' AND detail ->> 'by' = 'person'"""
            ).fetchone()
        assert still == {"k-row"}
        assert by_person == (1,)
        # The team's budget is raised: llmusage lifts its own block.
        with psycopg.connect(litellm_db) as conn:
            conn.execute('UPDATE "LiteLLM_TeamTable" SET max_budget = 500 WHERE team_id = %s', ("t-over",))
        _, raised = _statuses(litellm_db, lake)
        third = write_back(litellm_db, raised)
        assert third.unflagged == [("team", "t-over")]
    finally:  # the scenario as seeded for the other tests, whatever order they run in
        with psycopg.connect(litellm_db) as conn:
            conn.execute('UPDATE "LiteLLM_TeamTable" SET max_budget = 50 WHERE team_id = %s', ("t-over",))
            conn.execute('UPDATE "LiteLLM_TeamTable" SET blocked = false WHERE blocked')
            conn.execute('UPDATE "LiteLLM_VerificationToken" SET blocked = false WHERE blocked')
            for table in ("budget_events", "budget_status", "alerts"):
                conn.execute(f"DELETE FROM llmusage.{table}")


def test_repair_spend_is_refused(litellm_db: str, tmp_path: Path) -> None:
    _, result = _statuses(litellm_db, tmp_path / "lake")
    with pytest.raises(LlmusageError, match="refused on a LiteLLM database"):
        write_back(litellm_db, result, repair_spend=True)
    env = {
        "LLMUSAGE_DATABASE_URL": litellm_db,
        "LLMUSAGE_HOME": str(tmp_path / "home"),
        "PATH": "/usr/bin:/bin",
    }
    done = run_cli("reconcile", "--apply", "--repair-spend", env=env)
    assert done.returncode != 0
    assert REPAIR_REFUSED.split(":")[0] in done.stderr and "Traceback" not in done.stderr
