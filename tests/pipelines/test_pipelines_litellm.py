"""The Dagster graph end to end on a LiteLLM database: LiteLLM's own migrations, filled as LiteLLM 1.110 writes
it (`seed_litellm`: resets, budget rows, retention, failures, cache hits, master-key calls), then every
daily partition the logs cover, the dimension snapshots, the warehouse, `budget_status`, `budget_flags` (the
write-back, through LiteLLM's management API: `support.litellm_stub` on loopback) and the month's
`chargeback_statement`, materialized as the schedules do.

What an operator checks: the quality suite passes on LiteLLM's rows; the budget checks fail exactly where
LiteLLM itself refuses; every key, user, team and organization has the status LiteLLM's pre-call check
implies (`scenario.verdicts`); only the keys and teams LiteLLM refuses are blocked, with nothing written
into LiteLLM's metadata; the DDL of LiteLLM's tables is as LiteLLM's migrations left it; the statement is
the month's spend by the requests' time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import psycopg
import pytest
from psycopg import sql

from llmusage.devtools.seed.litellm import LitellmScenario, seed_litellm
from llmusage.pg.migrations import migrate
from llmusage.reconcile.store import load
from support.db import catalog_fingerprint
from support.litellm_stub import LitellmStub

warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)")

from pipelines.materialize import materialize_month, materialize_range  # noqa: E402
from pipelines.resources import LakeResource, PostgresResource  # noqa: E402

KINDS = ("key", "user", "team", "organization")
BLOCKABLE = ("key", "team")
MASTER = "sk-litellm-master-dagster"


@dataclass
class Run:
    scenario: LitellmScenario
    home: Path
    first: date
    last: date
    graph: dg.ExecuteInProcessResult
    month: dg.ExecuteInProcessResult
    ddl_before: dict
    ddl_after: dict
    api_url: str
    api_calls: list[tuple[str, str, int]]  # (route, key or team id, HTTP status)


@pytest.fixture(scope="module")
def run(litellm_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    # budget_status reconciles at the clock: the scenario's "now" is read here, not at import (in a random
    # order this module may run minutes after it was imported, and the reset-lag drift depends on it)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with psycopg.connect(litellm_database_url) as conn:
        scenario = seed_litellm(conn, now=now, seed=23)
    with psycopg.connect(litellm_database_url, autocommit=True) as conn:
        migrate(conn)  # `llmusage db migrate`: the schema llmusage only
        before = catalog_fingerprint(conn)
    home = tmp_path_factory.mktemp("home")
    stub = LitellmStub(litellm_database_url, MASTER).start()
    api_url = stub.url
    try:
        postgres = PostgresResource(
            database_url=litellm_database_url, litellm_url=stub.url, litellm_master_key=MASTER
        )
        resources = {"postgres": postgres, "lake": LakeResource(home=str(home))}
        instance = dg.DagsterInstance.ephemeral()
        first, last = scenario.retention_cutoff.date(), now.date()
        graph = materialize_range(first, last, instance, resources)
        month = materialize_month(last, instance, resources)
    finally:
        stub.stop()
    with psycopg.connect(litellm_database_url) as conn:
        after = catalog_fingerprint(conn)
    calls = [(c.route, c.body.get("key") or c.body.get("team_id"), c.status) for c in stub.calls]
    return Run(scenario, home, first, last, graph, month, before, after, api_url, calls)


def _pg(url: str, query: str | sql.Composed, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def _materialized(result: dg.ExecuteInProcessResult) -> dict[str, list[dg.AssetMaterialization]]:
    out: dict[str, list[dg.AssetMaterialization]] = {}
    for event in result.get_asset_materialization_events():
        out.setdefault(event.asset_key.to_user_string(), []).append(event.materialization)
    return out


def test_the_graph_materializes_every_partition_of_the_litellm_logs(
    run: Run, litellm_database_url: str
) -> None:
    assert run.graph.success and run.month.success
    materialized = _materialized(run.graph)
    assert {"spend_logs", "spend_daily", "warehouse", "budget_status", "budget_flags", "dim_keys"} <= set(
        materialized
    )
    days = [run.first + timedelta(days=n) for n in range((run.last - run.first).days + 1)]
    logs = materialized["spend_logs"]  # one run for the whole range (single-run backfill policy)
    assert sorted(m.partition for m in logs) == [day.isoformat() for day in days]
    [(rows, spend)] = _pg(
        litellm_database_url,
        """SELECT count(*), sum(spend) FROM "LiteLLM_SpendLogs" WHERE "startTime" >= %(first)s AND "startTime" < %(end)s""",
        {"first": run.first, "end": run.last + timedelta(days=1)},
    )
    assert rows == run.scenario.logs  # every surviving log, by its request's day
    # each day's materialization carries that day's rows and spend: together, the range's
    assert sum(m.metadata["rows"].value for m in logs) == rows
    assert sum(m.metadata["spend"].value for m in logs) == pytest.approx(spend, abs=1e-5)


def test_checks_pass_and_fail_as_litellm_decides(run: Run) -> None:
    checks = _checks(run.graph)
    quality = checks["spend_logs_quality"]
    assert quality.passed, quality.metadata["failures"].value  # LiteLLM's rows are good data
    assert checks["lake_is_fresh"].passed
    overrun = checks["no_budget_exceeded"]
    assert not overrun.passed and overrun.severity == dg.AssetCheckSeverity.ERROR
    kinds = set(load(run.home / "reconcile").entities["entity_type"])
    exceeded = [v for v in run.scenario.verdicts if v.kind in kinds and v.expected_status == "exceeded"]
    assert overrun.metadata["exceeded"].value == len(exceeded) > 0
    # drift: counters that differ from the logs for a cause llmusage cannot explain (a request in flight at a
    # reset), which the scenario states per entity; retention and the reset job's lag explain, never drift
    drift = checks["spend_drift_within_tolerance"]
    assert drift.severity == dg.AssetCheckSeverity.WARN
    entities = load(run.home / "reconcile").entities
    drifted = set(entities.filter(~pl.col("drift_ok")).select("entity_type", "entity_id").rows())
    explained = ("retention", "reset_lag")
    unexplained = {
        (v.kind, v.id)
        for v in run.scenario.verdicts
        if v.kind in kinds and abs(sum(gap for cause, gap in v.gaps.items() if cause not in explained)) > 1e-6
    }
    assert drifted == unexplained
    lagged = {
        (v.kind, v.id)
        for v in run.scenario.verdicts
        if v.kind in kinds and v.gaps.get("reset_lag") and set(v.gaps) <= set(explained)
    }
    causes = {(r["entity_type"], r["entity_id"]): r["drift_cause"] for r in entities.iter_rows(named=True)}
    assert all(causes[k] in explained for k in lagged)
    assert drift.passed == (not unexplained) and drift.metadata["drifted"].value == len(unexplained)
    retention = entities.filter(pl.col("drift_cause") == "retention")
    assert retention.height > 0 and retention["drift_ok"].all()


def test_budget_status_is_what_litellm_decides(run: Run) -> None:
    entities = load(run.home / "reconcile").entities
    got = {(r["entity_type"], r["entity_id"]): r["status"] for r in entities.iter_rows(named=True)}
    wrong = [
        (v.case or v.name, v.kind, v.expected_status, got.get((v.kind, v.id)))
        for v in run.scenario.verdicts
        if v.kind in KINDS and got.get((v.kind, v.id)) != v.expected_status
    ]
    assert not wrong, wrong
    assert sum(v.kind in KINDS for v in run.scenario.verdicts) >= 10
    with duckdb.connect(str(run.home / "warehouse.duckdb"), read_only=True) as duck:
        warehouse = dict(
            ((kind, id_), status)
            for kind, id_, status in duck.sql(
                "SELECT entity_type, entity_id, status FROM budget_status"
            ).fetchall()
        )
    assert warehouse == got  # the warehouse shows the reconciliation's own verdict


def test_budget_flags_block_only_what_litellm_refuses(run: Run, litellm_database_url: str) -> None:
    refused = {(v.kind, v.id) for v in run.scenario.refusing if v.kind in BLOCKABLE}
    assert {kind for kind, _ in refused} == set(BLOCKABLE)
    blocked = set(
        _pg(
            litellm_database_url,
            """SELECT 'key', token FROM "LiteLLM_VerificationToken" WHERE blocked
               UNION ALL SELECT 'team', team_id FROM "LiteLLM_TeamTable" WHERE blocked""",
        )
    )
    assert blocked == refused
    [flags] = _materialized(run.graph)["budget_flags"]
    assert flags.metadata["flagged"].value == len(refused) and flags.metadata["unflagged"].value == 0
    assert flags.metadata["written"].value == f"through LiteLLM's API at {run.api_url}"
    kind = {"/key/block": "key", "/team/block": "team"}
    assert sorted((kind[route], entity) for route, entity, _ in run.api_calls) == sorted(refused)
    assert all(status == 200 for *_, status in run.api_calls)
    ours = set(
        _pg(litellm_database_url, "SELECT entity_type, entity_id FROM llmusage.budget_status WHERE flagged")
    )
    assert ours == refused  # which blocks are llmusage's is recorded in its own schema


def test_nothing_is_written_into_litellm_metadata(run: Run, litellm_database_url: str) -> None:
    columns = _pg(
        litellm_database_url,
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name LIKE 'LiteLLM\\_%%' AND data_type = 'jsonb'""",
    )
    assert ("LiteLLM_VerificationToken", "metadata") in columns and (
        "LiteLLM_TeamTable",
        "metadata",
    ) in columns
    for table, column in columns:
        query = sql.SQL(
            "SELECT count(*) FROM {} WHERE jsonb_typeof({col}) = 'object' AND {col} ? 'llmusage_block'"
        )
        [(marked,)] = _pg(
            litellm_database_url, query.format(sql.Identifier(table), col=sql.Identifier(column))
        )
        assert marked == 0, (table, column)


def test_litellm_ddl_is_unchanged(run: Run) -> None:
    assert run.ddl_after == run.ddl_before


def test_chargeback_statement_is_the_months_spend_by_request_time(
    run: Run, litellm_database_url: str
) -> None:
    [statement] = run.month.get_asset_materialization_events()
    meta = statement.materialization.metadata
    start = run.last.replace(day=1)
    assert statement.materialization.partition == start.isoformat()
    [(spend, failed)] = _pg(
        litellm_database_url,
        """SELECT sum(spend), count(*) FILTER (WHERE status = 'failure') FROM "LiteLLM_SpendLogs"
           WHERE "startTime" >= %(start)s AND "startTime" < %(end)s""",
        {"start": start, "end": (start + timedelta(days=32)).replace(day=1)},
    )
    assert abs(Decimal(meta["total_exact_usd"].value) - Decimal(spend)) < Decimal("1e-6")
    assert meta["org_total_usd"].value == meta["total_usd"].value
    assert meta["status"].value == "provisional"  # the month is under way
    assert Path(meta["path"].value, "chargeback.csv").exists()
    assert f"{failed:,} failed" in meta["summary"].value
