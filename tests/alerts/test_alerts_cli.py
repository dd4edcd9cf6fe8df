"""The command line: `llmusage alerts test` and its exit codes, and `llmusage reconcile --apply` sending the
forecast alert of a team that will cross its budget before month end, with a receiver that is down at first
(a warning, exit 0, the alert pending) and `llmusage alerts send` delivering it once it is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from support.db import cli_env_for, run_cli
from support.webhook import Receiver


@pytest.fixture(scope="module")
def home(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """team-1 ($100, lifetime) spent $5 a day for the 7 days to 2026-05-10 12:00 ($35, 35%): at that rate it
    reaches its budget on 2026-05-23, within the month. The lake holds the logs and the dimensions."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, max_budget, spend) VALUES ('team-1', 'search', 100, 35)"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, team_id, spend, created_at)
               VALUES ('key-1', 'search-prod', 'team-1', 35, '2026-04-01')"""
        )
        for day in range(7):
            conn.execute(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, team_id, created_at)
                   VALUES (%s, 'key-1', 'gpt-4o', 5, 'team-1', %s)""",
                (f"req-{day}", datetime(2026, 5, 4, 12) + timedelta(days=day)),
            )
    home = tmp_path_factory.mktemp("home")
    done = run_cli("extract", env=cli_env_for(database_url, home))
    assert done.returncode == 0, done.stderr
    return home


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def _env(url: str, home: Path, *webhooks: str) -> dict[str, str]:
    return {**cli_env_for(url, home), "LLMUSAGE_ALERT_WEBHOOKS": ",".join(webhooks)}


def test_alerts_test_reports_each_webhook_and_fails_when_one_does(
    database_url: str, home: Path, receiver: Receiver
) -> None:
    unset = run_cli("alerts", "test", env=cli_env_for(database_url, home))
    assert unset.returncode == 1 and "LLMUSAGE_ALERT_WEBHOOKS is not set" in unset.stderr

    ok = run_cli("alerts", "test", env=_env(database_url, home, receiver.url))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok ") and "delivered (HTTP 200)" in ok.stdout
    [message] = receiver.take()
    assert message["kind"] == "test" and "test alert" in message["text"]

    failing = Receiver(status=500).start()
    try:
        mixed = run_cli("alerts", "test", env=_env(database_url, home, receiver.url, failing.url))
    finally:
        failing.stop()
    assert mixed.returncode == 1
    lines = mixed.stdout.splitlines()
    assert lines[0].startswith("ok ") and lines[1].startswith("FAILED ") and "HTTP 500" in lines[1]
    assert "secret" not in mixed.stdout and "1 of 2 webhook(s) failed" in mixed.stderr
    assert failing.attempts == 3 and len(receiver.take()) == 1


def test_reconcile_apply_sends_the_forecast_alert_even_after_the_receiver_was_down(
    database_url: str, home: Path, receiver: Receiver
) -> None:
    env = _env(database_url, home, receiver.url)
    receiver.stop()
    down = run_cli("reconcile", "--apply", env=env)
    assert down.returncode == 0, down.stderr
    assert (
        "llmusage: warning: alert webhook http://127.0.0.1:" in down.stderr and "unreachable" in down.stderr
    )
    assert "alerts: 0 delivered, 1 pending" in down.stdout
    pending = run_cli("alerts", "send", env=env)
    assert pending.returncode == 1 and "1 pending" in pending.stdout

    receiver.start()
    sent = run_cli("alerts", "send", env=env)
    assert sent.returncode == 0 and "alerts: 1 delivered, 0 pending" in sent.stdout
    [forecast] = receiver.take()
    assert forecast["kind"] == "forecast" and forecast["entity_id"] == "team-1"
    assert forecast["exceeds_on"] == "2026-05-23" and forecast["budget"] == 100.0
    assert forecast["ledger"] == pytest.approx(35.0) and forecast["daily_rate"] == pytest.approx(5.0)
    assert "team search (team-1) will reach its budget of $100.00 on 2026-05-23" in forecast["text"]

    again = run_cli("reconcile", "--apply", env=env)  # the same forecast: not sent again
    assert again.returncode == 0 and "alerts: 0 delivered, 0 pending" in again.stdout
    assert receiver.take() == []
