"""Reconciliation: statuses and transitions, flags written back (and lifted, and a person's block kept),
idempotence, drift and repair, orphaned spend, float tolerance and budget windows, on hand-made data."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from llmusage.errors import LlmusageError
from llmusage.reconcile import ReconcileOptions, Reconciliation, reconcile, write_back
from support.db import run_cli

AS_OF = datetime(2026, 5, 20, 12, 0)


@pytest.fixture
def db(database_url: str) -> str:
    """The module database, emptied: each test builds exactly the entities and logs it needs."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            'TRUNCATE "LiteLLM_SpendLogs", "LiteLLM_VerificationToken", "LiteLLM_UserTable", "LiteLLM_TeamTable", '
            '"LiteLLM_OrganizationTable", llmusage.budget_status, llmusage.budget_events CASCADE'
        )
    return database_url


def _entities(url: str) -> None:
    """org-1 > team-1 > user-1 > key-1; budgets are set per test."""
    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias) VALUES ('org-1', 'Org')"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id) VALUES ('team-1', 'search', 'org-1')"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_UserTable" (user_id, user_email, organization_id) VALUES ('user-1', 'a@example.com', 'org-1')"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, created_at)
               VALUES ('key-1', 'search-prod', 'user-1', 'team-1', '2026-01-10 08:30')"""
        )


def _logs(
    url: str, spends: list[float], start: datetime, step: timedelta = timedelta(minutes=1), **cols: str
) -> None:
    """Logs for key-1 (or the given api_key/user/team_id), and the spend columns grown by the same amounts."""
    key, user, team = cols.get("api_key", "key-1"), cols.get("user", "user-1"), cols.get("team_id", "team-1")
    with psycopg.connect(url) as conn:
        offset = conn.execute('SELECT count(*) FROM "LiteLLM_SpendLogs"').fetchone()[0]
        for i, spend in enumerate(spends):
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, "user", team_id, created_at)
                   VALUES (%s, %s, 'gpt-4o', %s, %s, %s, %s)""",
                (f"req-{offset + i:05d}", key, spend, user, team, start + i * step),
            )
        total = sum(spends)
        conn.execute(
            'UPDATE "LiteLLM_VerificationToken" SET spend = spend + %s WHERE token = %s', (total, key)
        )
        conn.execute('UPDATE "LiteLLM_UserTable" SET spend = spend + %s WHERE user_id = %s', (total, user))
        conn.execute('UPDATE "LiteLLM_TeamTable" SET spend = spend + %s WHERE team_id = %s', (total, team))
        conn.execute(
            "UPDATE \"LiteLLM_OrganizationTable\" SET spend = spend + %s WHERE organization_id = 'org-1'",
            (total,),
        )


def _budget(url: str, table: str, column: str, entity: str, budget: float | None) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f'UPDATE "{table}" SET max_budget = %s WHERE "{column}" = %s', (budget, entity))


def _run(url: str, tmp_path: Path, threshold: float = ReconcileOptions.threshold) -> Reconciliation:
    return reconcile(url, tmp_path / "lake", ReconcileOptions(threshold=threshold, as_of=AS_OF))


def _row(result: Reconciliation, kind: str, entity: str) -> dict:
    rows = result.entities.filter(
        (result.entities["entity_type"] == kind) & (result.entities["entity_id"] == entity)
    )
    assert rows.height == 1, (kind, entity)
    return rows.row(0, named=True)


def test_statuses_utilization_and_first_exceeded(db: str, tmp_path: Path) -> None:
    _entities(db)
    start = datetime(2026, 5, 1, 9, 0)
    _logs(db, [1.0] * 12, start)  # twelve dollars, one a minute from 09:00
    _budget(db, "LiteLLM_VerificationToken", "token", "key-1", 10.0)  # crossed by the 10th log, 09:09
    _budget(db, "LiteLLM_TeamTable", "team_id", "team-1", 14.0)  # 86%: warning
    _budget(db, "LiteLLM_UserTable", "user_id", "user-1", 100.0)  # 12%: ok
    result = _run(db, tmp_path)
    key = _row(result, "key", "key-1")
    assert key["status"] == "exceeded"
    assert key["ledger_spend"] == pytest.approx(12.0) and key["utilization"] == pytest.approx(1.2)
    assert key["first_exceeded_at"] == start + timedelta(minutes=9)
    assert key["requests"] == 12 and key["top_models"][0]["model"] == "gpt-4o"
    team = _row(result, "team", "team-1")
    assert team["status"] == "warning" and team["first_exceeded_at"] is None
    assert _row(result, "user", "user-1")["status"] == "ok"
    org = _row(result, "organization", "org-1")  # no budget: ok, no utilization
    assert org["status"] == "ok" and org["utilization"] is None and org["ledger_spend"] == pytest.approx(12.0)
    assert result.entities["status"][0] == "exceeded"  # worst first
    # A lower threshold makes the user a warning.
    assert _row(_run(db, tmp_path, threshold=0.1), "user", "user-1")["status"] == "warning"


def test_float_sums_at_the_budget_are_exceeded_not_drift(db: str, tmp_path: Path) -> None:
    _entities(db)
    _logs(db, [0.1] * 100, datetime(2026, 5, 2))  # sums to 9.99999999999998 in binary floating point
    _budget(db, "LiteLLM_VerificationToken", "token", "key-1", 10.0)
    with psycopg.connect(db) as conn:  # the recorded column summed in another order
        conn.execute("UPDATE \"LiteLLM_VerificationToken\" SET spend = 10.0 WHERE token = 'key-1'")
    key = _row(_run(db, tmp_path), "key", "key-1")
    assert key["status"] == "exceeded"
    assert key["drift_ok"] is True


def test_warning_starts_at_the_threshold_not_a_micro_dollar_before(db: str, tmp_path: Path) -> None:
    """Spend 8.4e-7 USD under 80% is `ok` (LiteLLM's decision on a seeded team); at 80% it is `warning`."""
    _entities(db)
    _logs(db, [1.30399916], datetime(2026, 5, 2))
    _budget(db, "LiteLLM_TeamTable", "team_id", "team-1", 1.63)
    assert _row(_run(db, tmp_path), "team", "team-1")["status"] == "ok"
    _logs(db, [0.00000084], datetime(2026, 5, 2, 1))
    assert _row(_run(db, tmp_path), "team", "team-1")["status"] == "warning"


def test_drift_and_orphaned_spend(db: str, tmp_path: Path) -> None:
    _entities(db)
    _logs(db, [2.0, 3.0], datetime(2026, 5, 3))
    _logs(db, [4.0], datetime(2026, 5, 3, 1), api_key="deleted-key", user="gone-user", team_id="gone-team")
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE \"LiteLLM_TeamTable\" SET spend = 7.5 WHERE team_id = 'team-1'")
    result = _run(db, tmp_path)
    team = _row(result, "team", "team-1")
    assert team["drift"] == pytest.approx(2.5) and team["drift_ok"] is False
    assert _row(result, "key", "key-1")["drift_ok"] is True
    for kind, entity in (("key", "deleted-key"), ("user", "gone-user"), ("team", "gone-team")):
        orphan = _row(result, kind, entity)
        assert orphan["status"] == "orphaned"
        assert orphan["ledger_spend"] == pytest.approx(4.0) and orphan["recorded_spend"] is None
    assert result.entities.filter(result.entities["status"] == "orphaned")[
        "ledger_spend"
    ].sum() == pytest.approx(12.0)


def _events(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT entity_type, entity_id, action, old_status, new_status FROM llmusage.budget_events ORDER BY event_id"
        ).fetchall()


def _flags(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        key = conn.execute(
            "SELECT blocked, metadata FROM \"LiteLLM_VerificationToken\" WHERE token = 'key-1'"
        ).fetchone()
        team = conn.execute(
            "SELECT blocked, metadata FROM \"LiteLLM_TeamTable\" WHERE team_id = 'team-1'"
        ).fetchone()
        user = conn.execute(
            "SELECT user_metadata FROM \"LiteLLM_UserTable\" WHERE user_id = 'user-1'"
        ).fetchone()
        org = conn.execute(
            "SELECT metadata FROM \"LiteLLM_OrganizationTable\" WHERE organization_id = 'org-1'"
        ).fetchone()
    return {
        "key": (key[0], "llmusage_block" in key[1]),
        "team": (team[0], "llmusage_block" in team[1]),
        "user": "llmusage_block" in user[0],
        "organization": "llmusage_block" in org[0],
    }


def test_apply_flags_then_lifts_and_is_idempotent(db: str, tmp_path: Path) -> None:
    _entities(db)
    _logs(db, [5.0, 5.0], datetime(2026, 5, 4))
    for table, column, entity in (
        ("LiteLLM_VerificationToken", "token", "key-1"),
        ("LiteLLM_TeamTable", "team_id", "team-1"),
        ("LiteLLM_UserTable", "user_id", "user-1"),
        ("LiteLLM_OrganizationTable", "organization_id", "org-1"),
    ):
        _budget(db, table, column, entity, 8.0)
    report = write_back(db, _run(db, tmp_path))
    assert sorted(report.flagged) == [
        ("key", "key-1"),
        ("organization", "org-1"),
        ("team", "team-1"),
        ("user", "user-1"),
    ]
    assert _flags(db) == {"key": (True, True), "team": (True, True), "user": True, "organization": True}
    first = _events(db)
    assert sorted(e[2] for e in first) == ["flagged"] * 4 + ["status_changed"] * 4
    assert all(e[3] is None and e[4] == "exceeded" for e in first)
    with psycopg.connect(db) as conn:
        reason = conn.execute(
            "SELECT metadata->'llmusage_block' FROM \"LiteLLM_VerificationToken\" WHERE token='key-1'"
        ).fetchone()[0]
        assert (
            reason["reason"] == "budget_exceeded"
            and reason["max_budget"] == 8.0
            and reason["ledger_spend"] == 10.0
        )
        status = conn.execute(
            "SELECT status, flagged FROM llmusage.budget_status WHERE entity_id = 'key-1'"
        ).fetchone()
        assert status == ("exceeded", True)

    # Nothing changed: no event, no write.
    again = write_back(db, _run(db, tmp_path))
    assert again.events == 0 and again.flagged == [] and len(_events(db)) == len(first)

    # Budgets raised: every flag llmusage set is lifted, one event per change.
    for table, column, entity in (
        ("LiteLLM_VerificationToken", "token", "key-1"),
        ("LiteLLM_TeamTable", "team_id", "team-1"),
        ("LiteLLM_UserTable", "user_id", "user-1"),
        ("LiteLLM_OrganizationTable", "organization_id", "org-1"),
    ):
        _budget(db, table, column, entity, 100.0)
    lifted = write_back(db, _run(db, tmp_path))
    assert len(lifted.unflagged) == 4
    assert _flags(db) == {"key": (False, False), "team": (False, False), "user": False, "organization": False}
    new = _events(db)[len(first) :]
    assert sorted(e[2] for e in new) == ["status_changed"] * 4 + ["unflagged"] * 4
    assert all(e[3] == "exceeded" and e[4] == "ok" for e in new if e[2] == "status_changed")


@pytest.mark.parametrize(
    ("kind", "table", "column", "entity"),
    [
        ("key", "LiteLLM_VerificationToken", "token", "key-1"),
        ("team", "LiteLLM_TeamTable", "team_id", "team-1"),
    ],
)
def test_a_persons_block_is_never_lifted(
    db: str, tmp_path: Path, kind: str, table: str, column: str, entity: str
) -> None:
    """Keys and teams are the kinds with a `blocked` column; users and organizations are refused on
    llmusage's marker alone, so there is no block of a person's to keep on them."""
    _entities(db)
    _logs(db, [5.0, 5.0], datetime(2026, 5, 5))
    _budget(db, table, column, entity, 8.0)
    with psycopg.connect(db) as conn:  # an admin blocked it by hand (no llmusage marker)
        conn.execute(f'UPDATE "{table}" SET blocked = TRUE WHERE "{column}" = %s', (entity,))
    report = write_back(db, _run(db, tmp_path))
    assert (kind, entity) not in report.flagged
    assert _flags(db)[kind] == (True, False)
    _budget(db, table, column, entity, 100.0)
    report = write_back(db, _run(db, tmp_path))
    assert report.unflagged == []
    assert _flags(db)[kind] == (True, False)  # still blocked: it was a person's block


def test_a_persons_unblock_stands_for_the_rest_of_the_period(db: str, tmp_path: Path) -> None:
    _entities(db)
    _logs(db, [5.0, 5.0], datetime(2026, 5, 6))
    _budget(db, "LiteLLM_VerificationToken", "token", "key-1", 8.0)
    _budget(db, "LiteLLM_UserTable", "user_id", "user-1", 8.0)
    first = write_back(db, _run(db, tmp_path))
    assert sorted(first.flagged) == [("key", "key-1"), ("user", "user-1")]
    with psycopg.connect(
        db
    ) as conn:  # an admin lets both through: the key unblocked, the user's marker removed
        conn.execute("UPDATE \"LiteLLM_VerificationToken\" SET blocked = FALSE WHERE token = 'key-1'")
        conn.execute("UPDATE \"LiteLLM_UserTable\" SET user_metadata = '{}' WHERE user_id = 'user-1'")
    before = len(_events(db))
    second = write_back(db, _run(db, tmp_path))
    assert second.flagged == [] and _flags(db)["key"] == (False, False) and _flags(db)["user"] is False
    with psycopg.connect(db) as conn:
        lifts = conn.execute(
            "SELECT entity_type, detail FROM llmusage.budget_events WHERE action = 'unflagged' ORDER BY 1"
        ).fetchall()
    assert [(kind, detail["by"], detail["period_start"]) for kind, detail in lifts] == [
        ("key", "person", ""),  # a lifetime budget: the person's decision stands
        ("user", "person", ""),
    ]
    assert len(_events(db)) == before + 2
    third = write_back(db, _run(db, tmp_path))  # still exceeded: not blocked again, nothing new recorded
    assert third.flagged == [] and third.events == 0 and _flags(db)["key"] == (False, False)


def test_repair_spend_sets_the_column_to_the_ledger(db: str, tmp_path: Path) -> None:
    _entities(db)
    _logs(db, [1.5, 2.5], datetime(2026, 5, 6))
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE \"LiteLLM_UserTable\" SET spend = 9.0 WHERE user_id = 'user-1'")
    result = _run(db, tmp_path)
    assert write_back(db, result).repaired == []  # not without asking
    report = write_back(db, result, repair_spend=True)
    assert report.repaired == [("user", "user-1")]
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT spend FROM \"LiteLLM_UserTable\" WHERE user_id = 'user-1'").fetchone()[
            0
        ] == pytest.approx(4.0)
        repaired = conn.execute(
            "SELECT detail FROM llmusage.budget_events WHERE action = 'spend_repaired'"
        ).fetchone()[0]
        assert repaired["recorded_spend"] == 9.0 and repaired["ledger_spend"] == pytest.approx(4.0)
    assert _row(_run(db, tmp_path), "user", "user-1")["drift_ok"] is True


def test_repair_keeps_spend_the_proxy_added_after_the_snapshot(db: str, tmp_path: Path) -> None:
    """The repair subtracts the drift measured in the snapshot: a request written between the reconciliation
    and the repair (the proxy adds its log and its spend to the counters in one transaction) is kept, so the
    counter ends at the ledger plus that request, not at the stale ledger."""
    _entities(db)
    _logs(db, [1.5, 2.5], datetime(2026, 5, 6))
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE \"LiteLLM_UserTable\" SET spend = 9.0 WHERE user_id = 'user-1'")
    result = _run(db, tmp_path)
    assert _row(result, "user", "user-1")["drift"] == pytest.approx(5.0)
    _logs(db, [0.75], datetime(2026, 5, 6, 1))  # the proxy goes on writing
    report = write_back(db, result, repair_spend=True)
    assert report.repaired == [("user", "user-1")]
    with psycopg.connect(db) as conn:
        spend = conn.execute("SELECT spend FROM \"LiteLLM_UserTable\" WHERE user_id = 'user-1'").fetchone()[0]
    assert spend == pytest.approx(4.0 + 0.75)
    again = _row(_run(db, tmp_path), "user", "user-1")
    assert again["drift_ok"] and again["ledger_spend"] == pytest.approx(4.75)


def test_budget_windows_count_only_the_current_window(db: str, tmp_path: Path) -> None:
    _entities(db)
    _logs(db, [6.0], datetime(2026, 4, 28, 10))  # last month
    _logs(db, [3.0], datetime(2026, 5, 2, 10))  # this month (AS_OF is 2026-05-20)
    _logs(db, [1.0], datetime(2026, 5, 19, 15))  # yesterday
    _logs(db, [0.25], datetime(2026, 5, 20, 6, 59))  # today, before the user's 24h window opened at 07:00
    _logs(db, [0.5], datetime(2026, 5, 20, 7, 0))  # today, inside it
    _budget(db, "LiteLLM_VerificationToken", "token", "key-1", 5.0)
    _budget(db, "LiteLLM_TeamTable", "team_id", "team-1", 5.0)
    _budget(db, "LiteLLM_UserTable", "user_id", "user-1", 0.5)
    with psycopg.connect(db) as conn:
        conn.execute(
            """UPDATE "LiteLLM_VerificationToken" SET metadata = '{"budget_duration": "1mo"}' WHERE token = 'key-1'"""
        )
        conn.execute(
            """UPDATE "LiteLLM_UserTable" SET user_metadata = %s, created_at = '2026-01-01 07:45' WHERE user_id = 'user-1'""",
            (Jsonb({"budget_duration": "24h"}),),
        )
    result = _run(db, tmp_path)
    key = _row(result, "key", "key-1")
    assert key["budget_duration"] == "1mo" and key["window_start"] == datetime(2026, 5, 1)
    assert key["ledger_spend"] == pytest.approx(4.75) and key["status"] == "warning"
    assert _row(result, "team", "team-1")["status"] == "exceeded"  # no window: all 10.75 dollars
    user = _row(result, "user", "user-1")  # 24h windows anchored at 07:00 each day
    assert user["window_start"] == datetime(2026, 5, 20, 7) and user["ledger_spend"] == pytest.approx(0.5)
    assert user["status"] == "exceeded" and user["first_exceeded_at"] == datetime(2026, 5, 20, 7)
    # A window that rolls over lifts the flag: the key was exceeded in April's window.
    april = reconcile(db, tmp_path / "lake", ReconcileOptions(as_of=datetime(2026, 4, 29)))
    assert _row(april, "key", "key-1")["status"] == "exceeded"
    write_back(db, april)
    assert _flags(db)["key"] == (True, True)
    write_back(db, result)
    assert _flags(db)["key"] == (False, False)


def test_a_malformed_budget_duration_is_a_clear_error(db: str, tmp_path: Path) -> None:
    _entities(db)
    with psycopg.connect(db) as conn:
        conn.execute("""UPDATE "LiteLLM_TeamTable" SET metadata = '{"budget_duration": "fortnight"}'""")
    with pytest.raises(LlmusageError, match="budget_duration 'fortnight'"):
        _run(db, tmp_path)


def test_cli_reconcile(db: str, cli_env: dict[str, str]) -> None:
    _entities(db)
    _logs(db, [4.0, 4.0], datetime(2026, 5, 7))
    _budget(db, "LiteLLM_TeamTable", "team_id", "team-1", 6.0)
    table = run_cli("reconcile", env=cli_env)
    assert table.returncode == 0, table.stderr
    assert "search" in table.stdout and "exceeded" in table.stdout
    applied = run_cli("reconcile", "--apply", "--format", "json", env=cli_env)
    assert applied.returncode == 0, applied.stderr
    out = json.loads(applied.stdout)
    team = next(e for e in out["entities"] if e["entity_id"] == "team-1")
    assert team["status"] == "exceeded" and team["ledger_spend"] == 8.0
    assert ["team", "team-1"] in out["applied"]["flagged"]
    for args, needle in (
        (["--repair-spend"], "give --apply"),
        (["--threshold", "1.5"], "--threshold must be"),
    ):
        bad = run_cli("reconcile", *args, env=cli_env)
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and needle in bad.stderr
