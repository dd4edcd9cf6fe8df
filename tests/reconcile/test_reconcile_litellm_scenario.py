"""Reconciliation on the realistic LiteLLM scenario (`llmusage.devtools.seed.litellm`): a database built by
LiteLLM's migrations and filled as LiteLLM 1.110 writes it (resets, budget rows, retention, failures, cache
hits, master-key calls). For every key, user, team and organization with a budget, llmusage's status is the
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
KINDS = ("key", "user", "team", "organization")


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
    assert checked >= 10
    assert not wrong, wrong
