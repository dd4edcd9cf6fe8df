"""Alerts on an llmusage database, against a real webhook receiver on loopback: one message per new crossing
across repeated runs, higher thresholds later sending only the new ones, a receiver that fails (500) or is
down losing nothing and getting each alert exactly once when back, a new budget period alerting again, two
webhooks of which one is down, the forecast alert, the quality alert, and the action each alert names."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from llmusage.alerts.crossings import quality_alert
from llmusage.alerts.dispatch import after_write_back, quality_failed
from llmusage.alerts.policy import AlertPolicy, Retry, parse_thresholds
from llmusage.errors import LlmusageError
from llmusage.reconcile import ReconcileOptions, reconcile, write_back
from support.webhook import Receiver

FAST = Retry(tries=3, backoff=0.01, timeout=2.0, budget=10.0)
MAY = datetime(2026, 5, 20, 12, 0)


@pytest.fixture
def db(database_url: str) -> str:
    """The module database with org-1 > team-1 > user-1 > key-1 (key-1 budgeted by calendar month), no logs,
    no alerts."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            'TRUNCATE "LiteLLM_SpendLogs", "LiteLLM_VerificationToken", "LiteLLM_UserTable", "LiteLLM_TeamTable", '
            '"LiteLLM_OrganizationTable", llmusage.budget_status, llmusage.budget_events, llmusage.alerts CASCADE'
        )
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
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, created_at, max_budget, metadata)
               VALUES ('key-1', 'search-prod', 'user-1', 'team-1', '2026-01-10 08:30', 10, '{"budget_duration": "1mo"}')"""
        )
    return database_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def _spend(url: str, amount: float, at: datetime) -> None:
    with psycopg.connect(url) as conn:
        n = conn.execute('SELECT count(*) FROM "LiteLLM_SpendLogs"').fetchone()[0]
        conn.execute(
            """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, "user", team_id, created_at)
               VALUES (%s, 'key-1', 'gpt-4o', %s, 'user-1', 'team-1', %s)""",
            (f"req-{n:05d}", amount, at),
        )
        for table, column, entity in (
            ("LiteLLM_VerificationToken", "token", "key-1"),
            ("LiteLLM_UserTable", "user_id", "user-1"),
            ("LiteLLM_TeamTable", "team_id", "team-1"),
        ):
            conn.execute(f'UPDATE "{table}" SET spend = spend + %s WHERE "{column}" = %s', (amount, entity))


def _run(url: str, tmp_path: Path, policy: AlertPolicy, as_of: datetime = MAY):
    """What `reconcile --apply` and the budgets job do: reconcile, write back (recording), deliver."""
    result = reconcile(url, tmp_path / "lake", ReconcileOptions(as_of=as_of))
    applied = write_back(url, result, alerts=policy)
    return applied, after_write_back(url, tmp_path / "lake", result.entities, policy)


def _policy(*receivers: Receiver) -> AlertPolicy:
    return AlertPolicy(tuple(r.url for r in receivers), parse_thresholds(None), FAST)


def _log(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT kind, entity_type, entity_id, threshold, period_start, sent_at IS NOT NULL, attempts "
            "FROM llmusage.alerts ORDER BY alert_id"
        ).fetchall()


def test_one_message_per_new_crossing_and_only_the_new_thresholds(
    db: str, tmp_path: Path, receiver: Receiver
) -> None:
    policy = _policy(receiver)
    _spend(db, 6.0, datetime(2026, 5, 3))  # 60%
    applied, delivered = _run(db, tmp_path, policy)
    assert (
        applied.alerts == 1 and delivered.delivered == 1 and delivered.pending == 0 and not delivered.warnings
    )
    [first] = receiver.take()
    assert first["kind"] == "budget_threshold" and first["threshold"] == "50%"
    assert first["entity_type"] == "key" and first["entity_id"] == "key-1"
    assert first["entity_name"] == "search-prod" and first["period_start"] == "2026-05-01T00:00:00"
    assert first["ledger"] == pytest.approx(6.0) and first["budget"] == 10.0
    assert first["action"] == "none" and first["first_exceeded_at"] is None
    assert "key search-prod (key-1) crossed 50% of its budget: $6.00 of $10.00 (60%)" in first["text"]

    for _ in range(2):  # nothing new: nothing sent, nothing recorded
        applied, delivered = _run(db, tmp_path, policy)
        assert applied.alerts == 0 and delivered.delivered == 0
    assert receiver.take() == []

    _spend(db, 3.6, datetime(2026, 5, 4))  # 96%: 80% and 95% crossed in one run, one message
    _run(db, tmp_path, policy)
    [second] = receiver.take()
    assert second["threshold"] == "95%" and second["thresholds"] == ["80%", "95%"]

    _spend(db, 1.0, datetime(2026, 5, 5, 10))  # 106%: exceeded, the key blocked by the write-back
    _run(db, tmp_path, policy)
    _run(db, tmp_path, policy)
    [third] = receiver.take()
    assert third["threshold"] == "100%" and third["action"] == "blocked"
    assert third["first_exceeded_at"] == "2026-05-05T10:00:00"
    assert [(row[3], row[5]) for row in _log(db)] == [
        ("50%", True),
        ("80%", True),
        ("95%", True),
        ("100%", True),
    ]


def test_a_failing_receiver_loses_nothing_and_gets_each_alert_once_when_back(
    db: str, tmp_path: Path, receiver: Receiver
) -> None:
    policy = _policy(receiver)
    receiver.status = 500
    _spend(db, 8.5, datetime(2026, 5, 3))  # 85%: 50% and 80%
    applied, delivered = _run(db, tmp_path, policy)
    assert applied.alerts == 2 and delivered.delivered == 0 and delivered.pending == 2
    assert receiver.attempts == FAST.tries and receiver.take() == []  # tried three times, then left
    assert "HTTP 500" in delivered.warnings[0] and "stay pending" in delivered.warnings[0]
    assert "secret" not in delivered.warnings[0]  # a webhook URL's path is its secret
    assert [row[5] for row in _log(db)] == [False, False]

    _run(db, tmp_path, policy)  # still failing: still pending, not recorded twice
    assert len(_log(db)) == 2 and receiver.take() == []

    receiver.status = 200
    applied, delivered = _run(db, tmp_path, policy)
    assert applied.alerts == 0 and delivered.delivered == 2 and delivered.pending == 0
    [message] = receiver.take()
    assert message["thresholds"] == ["50%", "80%"]
    _run(db, tmp_path, policy)
    assert receiver.take() == []


def test_a_receiver_that_is_down_costs_a_bounded_time_and_gets_the_alert_later(
    db: str, tmp_path: Path, receiver: Receiver
) -> None:
    policy = _policy(receiver)
    receiver.stop(keep_port=True)  # down: its port refuses connections until it is back
    _spend(db, 5.0, datetime(2026, 5, 3))
    began = time.monotonic()
    _, delivered = _run(db, tmp_path, policy)
    assert time.monotonic() - began < 8  # three refused connections, not a hang
    assert delivered.pending == 1 and "unreachable" in delivered.warnings[0]
    receiver.start()
    _, delivered = _run(db, tmp_path, policy)
    assert delivered.delivered == 1 and [m["threshold"] for m in receiver.take()] == ["50%"]


def test_a_new_period_alerts_again(db: str, tmp_path: Path, receiver: Receiver) -> None:
    policy = _policy(receiver)
    _spend(db, 6.0, datetime(2026, 5, 3))
    _run(db, tmp_path, policy)
    assert [m["period_start"] for m in receiver.take()] == ["2026-05-01T00:00:00"]
    _spend(db, 5.5, datetime(2026, 6, 2))  # June: a new month, 55% of it
    _run(db, tmp_path, policy, as_of=datetime(2026, 6, 10))
    [june] = receiver.take()
    assert june["period_start"] == "2026-06-01T00:00:00" and june["threshold"] == "50%"
    assert [(row[3], row[4]) for row in _log(db)] == [
        ("50%", "2026-05-01T00:00:00"),
        ("50%", "2026-06-01T00:00:00"),
    ]


def test_two_webhooks_one_down_each_gets_every_alert_once(
    db: str, tmp_path: Path, receiver: Receiver
) -> None:
    other = Receiver(status=500).start()
    try:
        policy = _policy(receiver, other)
        _spend(db, 5.0, datetime(2026, 5, 3))
        _, delivered = _run(db, tmp_path, policy)
        assert delivered.pending == 1 and len(receiver.take()) == 1 and other.take() == []
        other.status = 200
        _, delivered = _run(db, tmp_path, policy)
        assert delivered.delivered == 1 and receiver.take() == [] and len(other.take()) == 1
    finally:
        other.stop()


def test_a_flagged_user_and_a_soft_budget_name_their_action(
    db: str, tmp_path: Path, receiver: Receiver
) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE \"LiteLLM_UserTable\" SET max_budget = 4 WHERE user_id = 'user-1'")
        conn.execute("UPDATE \"LiteLLM_VerificationToken\" SET max_budget = NULL WHERE token = 'key-1'")
    _spend(db, 5.0, datetime(2026, 5, 3))
    _run(db, tmp_path, AlertPolicy((receiver.url,), (100.0,), FAST))  # only 100% alerts
    [user] = receiver.take()
    assert (user["entity_type"], user["threshold"], user["action"]) == ("user", "100%", "flagged")
    assert user["entity_name"] == "a@example.com" and user["period_start"] == ""


def test_quality_alert_once_per_check_and_days(db: str, receiver: Receiver) -> None:
    failures = [{"expectation": "expect_column_values_to_be_between", "column": "prompt_tokens",
                 "unexpected_count": 1, "sample": ["-5"]}]  # fmt: skip
    alert = quality_alert("spend_logs_quality", "spend_logs", "2026-05-03", failures, rows=120, evaluated=14)
    policy = _policy(receiver)
    assert quality_failed(db, alert, policy).delivered == 1
    assert quality_failed(db, alert, policy).delivered == 0  # the same days failing again: no repeat
    [message] = receiver.take()
    assert message["kind"] == "quality_check" and message["entity_id"] == "spend_logs_quality"
    assert message["period_start"] == "2026-05-03" and message["failed"] == 1
    assert "expect_column_values_to_be_between on prompt_tokens" in message["text"]


def test_thresholds_parse() -> None:
    assert parse_thresholds("95, 50%,80,100,80") == (50.0, 80.0, 95.0, 100.0)
    assert parse_thresholds("") == (50.0, 80.0, 95.0, 100.0)
    with pytest.raises(LlmusageError, match="LLMUSAGE_ALERT_THRESHOLDS"):
        parse_thresholds("80,lots")


def test_nothing_is_recorded_without_webhooks(db: str, tmp_path: Path) -> None:
    _spend(db, 9.0, datetime(2026, 5, 3))
    result = reconcile(db, tmp_path / "lake", ReconcileOptions(as_of=MAY))
    assert write_back(db, result).alerts == 0 and _log(db) == []
