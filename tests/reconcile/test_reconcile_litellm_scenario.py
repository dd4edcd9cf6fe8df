"""Reconciliation on the realistic LiteLLM scenario (`llmusage.devtools.seed.litellm`): a database built by
LiteLLM's migrations and filled as LiteLLM 1.110 writes it (resets, budget rows, retention, failures, cache
hits, master-key calls). For every key, user, team, organization, end user, tag and team membership with a
budget, llmusage's status is the
one LiteLLM's own pre-call check implies (the scenario's verdicts, read from LiteLLM's code), and its ledger
is the spend of the surviving logs of the current period."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest

from llmusage.devtools.seed.litellm import LitellmScenario, seed_litellm
from llmusage.lake.extract import extract
from llmusage.reconcile import ReconcileOptions, reconcile

NOW = datetime(2026, 11, 18, 14, 30)
KINDS = ("key", "user", "team", "organization", "end_user", "tag", "team_member")


@pytest.fixture(scope="module")
def reconciled(
    litellm_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LitellmScenario, dict]:
    with psycopg.connect(litellm_database_url) as conn:
        scenario = seed_litellm(conn, now=NOW, seed=7)
    lake = tmp_path_factory.mktemp("lake")
    extract(litellm_database_url, lake)
    result = reconcile(litellm_database_url, lake, ReconcileOptions(as_of=NOW))
    rows = {(r["entity_type"], r["entity_id"]): r for r in result.entities.iter_rows(named=True)}
    return scenario, rows


def test_statuses_match_litellms_decisions_entity_by_entity(reconciled: tuple[LitellmScenario, dict]) -> None:
    scenario, rows = reconciled
    checked = 0
    wrong = []
    for verdict in scenario.verdicts:
        if verdict.kind not in KINDS:
            continue
        row = rows.get((verdict.kind, verdict.id))
        got = row["status"] if row else None
        if got != verdict.expected_status:
            wrong.append((verdict.case or verdict.name, verdict.kind, verdict.expected_status, got))
        checked += 1
    assert checked == len(scenario.verdicts) >= 10
    assert not wrong, wrong


def test_ledgers_are_the_periods_surviving_logs(reconciled: tuple[LitellmScenario, dict]) -> None:
    scenario, rows = reconciled
    off = [
        (v.kind, v.name, v.ledger_spend, rows[(v.kind, v.id)]["ledger_spend"])
        for v in scenario.verdicts
        if abs(rows[(v.kind, v.id)]["ledger_spend"] - v.ledger_spend) > 1e-6
    ]
    assert not off, off


@pytest.mark.parametrize("case", ["end_user_over_budget", "tag_over_budget", "member_over_budget"])
def test_budget_only_kinds_over_budget_are_exceeded_with_the_crossing_instant(
    reconciled: tuple[LitellmScenario, dict], case: str
) -> None:
    scenario, rows = reconciled
    verdict = scenario.case(case)
    row = rows[(verdict.kind, verdict.id)]
    assert (row["status"], row["max_budget"], row["budget_duration"]) == (
        "exceeded",
        verdict.max_budget,
        "30d",
    )
    assert row["window_start"] == verdict.period_start
    assert row["recorded_spend"] == pytest.approx(verdict.recorded_spend)
    assert verdict.period_start <= row["first_exceeded_at"] <= NOW
    assert row["requests"] > 0 and row["top_models"]


@pytest.mark.parametrize("case", ["end_user_within_budget", "tag_within_budget", "member_within_budget"])
def test_budget_only_kinds_within_budget_are_ok(reconciled: tuple[LitellmScenario, dict], case: str) -> None:
    scenario, rows = reconciled
    verdict = scenario.case(case)
    row = rows[(verdict.kind, verdict.id)]
    assert (row["status"], row["first_exceeded_at"], row["drift_ok"]) == ("ok", None, True)
