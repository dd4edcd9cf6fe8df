"""The Dagster code location: assets materialized with partition keys on a test database, the quality
suite and the budget checks, a corrupted row keeping flags from being written, the schedule and the sensor."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from llmusage.devtools.seed import SeedOptions, seed
from llmusage.reconcile.breaches import entity_label
from llmusage.reconcile.store import load

warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)")

from pipelines.definitions import defs  # noqa: E402
from pipelines.materialize import materialize_month, materialize_range  # noqa: E402
from pipelines.resources import LakeResource, PostgresResource  # noqa: E402
from pipelines.schedules import ingest_partition_keys, previous_month_key  # noqa: E402

END = datetime(2026, 3, 1)
FIRST, LAST = date(2026, 2, 22), date(2026, 2, 28)


@pytest.fixture(scope="module")
def seeded(database_url: str):
    with psycopg.connect(database_url) as conn:
        return seed(conn, SeedOptions(logs=8_000, days=7, seed=3, end=END, anomalies=True, reset=True))


@pytest.fixture
def resources(database_url: str, tmp_path: Path) -> dict[str, object]:
    return {"postgres": PostgresResource(database_url=database_url), "lake": LakeResource(home=str(tmp_path))}


def _marked(url: str) -> set[tuple[str, str]]:
    """The entities carrying llmusage's block marker in PostgreSQL."""
    with psycopg.connect(url) as conn:
        return set(
            conn.execute(
                """SELECT 'key', token FROM "LiteLLM_VerificationToken" WHERE metadata ? 'llmusage_block'
                   UNION ALL SELECT 'user', user_id FROM "LiteLLM_UserTable" WHERE user_metadata ? 'llmusage_block'
                   UNION ALL SELECT 'team', team_id FROM "LiteLLM_TeamTable" WHERE metadata ? 'llmusage_block'
                   UNION ALL SELECT 'organization', organization_id FROM "LiteLLM_OrganizationTable"
                             WHERE metadata ? 'llmusage_block'"""
            ).fetchall()
        )


def _over_budget_in_postgres(url: str) -> set[tuple[str, str]]:
    """Entities whose logs (summed by PostgreSQL, a log's organization being its team's, else its user's)
    reach their lifetime max_budget: what the budget check must name, no more and no fewer."""
    with psycopg.connect(url) as conn:
        return set(
            conn.execute(
                """WITH l AS (
                     SELECT l.api_key, l."user", l.team_id, l.spend,
                            COALESCE(t.organization_id, u.organization_id) AS org
                     FROM "LiteLLM_SpendLogs" l LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = l.team_id
                     LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = l."user")
                   SELECT 'key', k.token FROM "LiteLLM_VerificationToken" k JOIN l ON l.api_key = k.token
                     WHERE k.max_budget IS NOT NULL GROUP BY k.token, k.max_budget HAVING sum(l.spend) >= k.max_budget
                   UNION ALL SELECT 'user', u.user_id FROM "LiteLLM_UserTable" u JOIN l ON l."user" = u.user_id
                     WHERE u.max_budget IS NOT NULL GROUP BY u.user_id, u.max_budget HAVING sum(l.spend) >= u.max_budget
                   UNION ALL SELECT 'team', t.team_id FROM "LiteLLM_TeamTable" t JOIN l ON l.team_id = t.team_id
                     WHERE t.max_budget IS NOT NULL GROUP BY t.team_id, t.max_budget HAVING sum(l.spend) >= t.max_budget
                   UNION ALL SELECT 'organization', o.organization_id FROM "LiteLLM_OrganizationTable" o
                     JOIN l ON l.org = o.organization_id WHERE o.max_budget IS NOT NULL
                     GROUP BY o.organization_id, o.max_budget HAVING sum(l.spend) >= o.max_budget"""
            ).fetchall()
        )


def _flag_markers(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            """SELECT (SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE metadata ? 'llmusage_block')
                    + (SELECT count(*) FROM "LiteLLM_TeamTable" WHERE metadata ? 'llmusage_block')
                    + (SELECT count(*) FROM "LiteLLM_UserTable" WHERE user_metadata ? 'llmusage_block')"""
        ).fetchone()[0]


def test_definitions_hold_the_graph() -> None:
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"spend_logs", "spend_daily", "warehouse", "budget_status", "budget_flags", "dim_keys"} <= keys
    assert {j.name for j in repo.get_all_jobs()} >= {"ingest_job", "budgets_job"}
    assert repo.get_schedule_def("ingest_schedule").cron_schedule == "*/15 * * * *"
    assert repo.get_schedule_def("chargeback_schedule").cron_schedule == "0 3 1 * *"
    assert "chargeback_statement" in keys


def test_spend_logs_partition(seeded, database_url: str, resources: dict[str, object]) -> None:
    from pipelines.assets.ingest import dimension_snapshots, spend_logs

    result = dg.materialize(
        [dimension_snapshots, spend_logs],
        partition_key="2026-02-25",
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    materialized = next(
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("spend_logs")
    ).materialization
    with psycopg.connect(database_url) as conn:
        rows, spend = conn.execute(
            """SELECT count(*), sum(spend) FROM "LiteLLM_SpendLogs"
               WHERE created_at >= '2026-02-25' AND created_at < '2026-02-26'"""
        ).fetchone()
    assert materialized.partition == "2026-02-25"
    assert materialized.metadata["rows"].value == rows
    assert materialized.metadata["spend"].value == pytest.approx(spend, abs=1e-6)
    [quality] = result.get_asset_check_evaluations()
    assert quality.check_name == "spend_logs_quality" and quality.passed


def test_whole_graph_with_a_seeded_overrun(seeded, database_url: str, resources: dict[str, object]) -> None:
    result = materialize_range(FIRST, LAST, dg.DagsterInstance.ephemeral(), resources)
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["spend_logs_quality"].passed
    overrun = checks["no_budget_exceeded"]
    assert not overrun.passed and overrun.severity == dg.AssetCheckSeverity.ERROR
    # Exactly the entities PostgreSQL's own sums put over budget: the seed's planted overruns, no other.
    expected = _over_budget_in_postgres(database_url)
    assert expected == {(a.entity_type, a.entity_id) for a in seeded.anomalies if a.kind == "over_budget"}
    offenders = overrun.metadata["offenders"]
    assert overrun.metadata["exceeded"].value == len(expected)
    assert not checks["spend_drift_within_tolerance"].passed
    assert checks["spend_drift_within_tolerance"].severity == dg.AssetCheckSeverity.WARN
    assert isinstance(offenders, dg.TableMetadataValue)
    entities = load(resources["lake"].reconcile_dir).entities  # type: ignore[attr-defined]
    labels = {
        (r["entity_type"], r["entity_id"]): entity_label(r["name"], r["entity_id"])
        for r in entities.iter_rows(named=True)
    }
    named = sorted((r.data["kind"], r.data["entity"]) for r in offenders.records)
    assert named == sorted((kind, labels[(kind, entity)]) for kind, entity in expected)
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"spend_logs", "spend_daily", "warehouse", "budget_status", "budget_flags"} <= materialized
    assert _marked(database_url) == expected  # flagged in PostgreSQL: the overruns, and nothing else


def test_a_corrupted_row_fails_the_suite_and_keeps_flags_unwritten(
    seeded, database_url: str, resources: dict[str, object]
) -> None:
    with psycopg.connect(database_url) as conn:  # no flag yet; then one row with negative tokens
        conn.execute(
            """UPDATE "LiteLLM_VerificationToken" SET blocked = FALSE, metadata = metadata - 'llmusage_block'"""
        )
        conn.execute(
            """UPDATE "LiteLLM_TeamTable" SET blocked = FALSE, metadata = metadata - 'llmusage_block'"""
        )
        conn.execute("""UPDATE "LiteLLM_UserTable" SET user_metadata = user_metadata - 'llmusage_block'""")
        victim, original = conn.execute(
            """SELECT request_id, prompt_tokens FROM "LiteLLM_SpendLogs" WHERE created_at >= '2026-02-26'
               ORDER BY request_id LIMIT 1"""
        ).fetchone()
        conn.execute('UPDATE "LiteLLM_SpendLogs" SET prompt_tokens = -5 WHERE request_id = %s', (victim,))
    try:
        instance = dg.DagsterInstance.ephemeral()
        result = materialize_range(FIRST, LAST, instance, resources)
        assert not result.success
        [quality] = [c for c in result.get_asset_check_evaluations() if c.check_name == "spend_logs_quality"]
        assert not quality.passed
        failures = quality.metadata["failures"].records
        assert "expect_column_values_to_be_between" in {f.data["expectation"] for f in failures}
        materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert "budget_flags" not in materialized and "budget_status" not in materialized
        assert _flag_markers(database_url) == 0
        # A later run of the budgets alone refuses too: the latest quality check failed.
        from pipelines.assets.budgets import budget_flags

        later = dg.materialize([budget_flags], resources=resources, instance=instance, raise_on_error=False)
        assert not later.success and _flag_markers(database_url) == 0
    finally:
        with psycopg.connect(database_url) as conn:
            conn.execute(
                'UPDATE "LiteLLM_SpendLogs" SET prompt_tokens = %s WHERE request_id = %s', (original, victim)
            )


def test_ingest_schedule_covers_today_and_the_lag_window() -> None:
    assert ingest_partition_keys(datetime(2026, 5, 3, 1, 30, tzinfo=UTC)) == ["2026-05-02", "2026-05-03"]
    assert ingest_partition_keys(datetime(2026, 5, 3, 15, 0, tzinfo=UTC)) == ["2026-05-03"]
    schedule = defs.get_schedule_def("ingest_schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 5, 3, 0, 45, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-05-02", "2026-05-03"]
    assert len({r.run_key for r in requests}) == 2


def test_spend_sensor_cursor(seeded, database_url: str) -> None:
    sensor = defs.get_sensor_def("spend_sensor")
    resources = {"postgres": PostgresResource(database_url=database_url)}
    first = sensor.evaluate_tick(dg.build_sensor_context(cursor=None, resources=resources))
    assert len(first.run_requests) == 1 and first.cursor
    quiet = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, resources=resources))
    assert quiet.run_requests == [] and quiet.skip_message
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, created_at)
               VALUES ('sensor-new', 'k', 'gpt-4o', 0.5, '2026-03-01 00:30')"""
        )
    try:
        moved = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, resources=resources))
        assert len(moved.run_requests) == 1
        assert json.loads(moved.cursor)["newest_log"] == "2026-03-01T00:30:00"
    finally:
        with psycopg.connect(database_url) as conn:
            conn.execute("""DELETE FROM "LiteLLM_SpendLogs" WHERE request_id = 'sensor-new'""")


def test_chargeback_statement_for_a_month(seeded, database_url: str, resources: dict[str, object]) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_range(FIRST, LAST, instance, resources).success
    result = materialize_month(date(2026, 2, 10), instance, resources)
    assert result.success
    [event] = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert event.materialization.partition == "2026-02-01"
    with psycopg.connect(database_url) as conn:
        total = conn.execute(
            """SELECT sum(spend) FROM "LiteLLM_SpendLogs" WHERE created_at >= '2026-02-01' AND created_at < '2026-03-01'"""
        ).fetchone()[0]
    assert isinstance(meta["total_usd"].value, str)  # a decimal string, never a float
    assert abs(Decimal(meta["total_usd"].value) - Decimal(str(total))) <= Decimal("0.005")
    assert meta["org_total_usd"].value == meta["total_usd"].value  # the same logs, by organization
    assert Path(meta["path"].value, "chargeback.csv").exists() and Path(meta["org_path"].value).name == "org"
    assert Path(meta["org_path"].value, "chargeback.parquet").exists()
    summary = Path(meta["summary_path"].value).read_text()
    assert "# Chargeback 2026-02" in summary and "| organizations |" in summary and "agree exactly" in summary


def test_chargeback_schedule_asks_for_the_month_before() -> None:
    assert previous_month_key(datetime(2026, 3, 1, 3, 0, tzinfo=UTC)) == "2026-02-01"
    assert previous_month_key(datetime(2026, 1, 1, 3, 0, tzinfo=UTC)) == "2025-12-01"
    schedule = defs.get_schedule_def("chargeback_schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 6, 1, 3, 0, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-05-01"
