"""What ops rely on: automation on by default and off with LLMUSAGE_AUTOMATION=off, partitions from
LLMUSAGE_PARTITIONS_START, each day partition's own rows and spend, breaches as a Dagster table naming the
entity, the amount over and what holds on it (llmusage's block or flag, a person's block), runs of the named
jobs, a lake that is current reporting 0 minutes behind, and the one money formatter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from llmusage.config import Settings
from llmusage.devtools.seed import SeedOptions, seed
from llmusage.errors import LlmusageError
from llmusage.lake.freshness import LakeLag
from llmusage.money import usd
from llmusage.reconcile.breaches import entity_label
from support.db import ROOT

warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)")

from pipelines.materialize import materialize_range  # noqa: E402
from pipelines.resources import LakeResource, PostgresResource  # noqa: E402

END = datetime(2026, 3, 1)
FIRST, LAST = date(2026, 2, 26), date(2026, 2, 28)
NAMES = {  # kind -> (table, id column, name column)
    "key": ("LiteLLM_VerificationToken", "token", "key_alias"),
    "user": ("LiteLLM_UserTable", "user_id", "user_email"),
    "team": ("LiteLLM_TeamTable", "team_id", "team_alias"),
    "organization": ("LiteLLM_OrganizationTable", "organization_id", "organization_alias"),
}
LOAD = """
import json, warnings
warnings.simplefilter("ignore")
from pipelines.definitions import defs
from pipelines.partitions import daily_partitions, monthly_partitions
print(json.dumps({
    "schedules": {s.name: s.default_status.value for s in defs.schedules},
    "sensors": {s.name: s.default_status.value for s in defs.sensors},
    "daily": daily_partitions.start.date().isoformat(),
    "monthly": monthly_partitions.start.date().isoformat(),
}))
"""


@pytest.fixture(scope="module")
def seeded(database_url: str):
    with psycopg.connect(database_url) as conn:
        return seed(conn, SeedOptions(logs=3_000, days=3, seed=5, end=END, anomalies=True, reset=True))


@pytest.fixture(scope="module")
def graph(seeded, database_url: str, tmp_path_factory: pytest.TempPathFactory):
    """The graph once, through the named jobs, with a person's block on a team set beforehand."""
    with psycopg.connect(database_url) as conn:
        person_team = conn.execute(
            """SELECT team_id FROM "LiteLLM_TeamTable" WHERE NOT blocked ORDER BY team_id LIMIT 1"""
        ).fetchone()[0]
        conn.execute("""UPDATE "LiteLLM_TeamTable" SET blocked = TRUE WHERE team_id = %s""", (person_team,))
    home = tmp_path_factory.mktemp("home")
    resources = {
        "postgres": PostgresResource(database_url=database_url),
        "lake": LakeResource(home=str(home)),
    }
    runs = materialize_range(FIRST, LAST, dg.DagsterInstance.ephemeral(), resources)
    assert runs.success
    return runs, person_team


def _load_location(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LLMUSAGE_", "DAGSTER_"))}
    out = subprocess.run(
        [sys.executable, "-c", LOAD],
        env={**clean, **env, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _names(url: str, kind: str) -> dict[str, str | None]:
    table, id_column, name_column = NAMES[kind]
    with psycopg.connect(url) as conn:
        return dict(conn.execute(f'SELECT {id_column}, {name_column} FROM "{table}"').fetchall())


def test_automation_runs_by_default_and_stops_with_the_switch() -> None:
    default = _load_location()
    assert set(default["schedules"]) == {"ingest_schedule", "chargeback_schedule"}
    assert set(default["sensors"]) == {"reconcile_after_ingest_sensor", "spend_sensor"}
    assert set(default["schedules"].values()) == set(default["sensors"].values()) == {"RUNNING"}
    assert default["daily"] == "2025-01-01"
    off = _load_location(LLMUSAGE_AUTOMATION="off", LLMUSAGE_PARTITIONS_START="2026-02-22")
    assert set(off["schedules"].values()) == set(off["sensors"].values()) == {"STOPPED"}
    assert off["daily"] == "2026-02-22" and off["monthly"] == "2026-02-01"


def test_settings_read_the_switch_and_the_start() -> None:
    assert Settings.from_env({}).automation is True
    assert Settings.from_env({"LLMUSAGE_AUTOMATION": "OFF"}).automation is False
    assert Settings.from_env({"LLMUSAGE_PARTITIONS_START": "2026-02-22"}).partitions_start == date(
        2026, 2, 22
    )
    with pytest.raises(LlmusageError, match="LLMUSAGE_AUTOMATION must be on or off"):
        Settings.from_env({"LLMUSAGE_AUTOMATION": "sometimes"})
    with pytest.raises(LlmusageError, match="LLMUSAGE_PARTITIONS_START must be a day"):
        Settings.from_env({"LLMUSAGE_PARTITIONS_START": "22/02/2026"})


def test_runs_belong_to_the_named_jobs(graph) -> None:
    runs, _ = graph
    assert [r.dagster_run.job_name for r in runs.results] == ["ingest_job", "budgets_job"]


def test_each_day_partition_reports_its_own_rows_and_spend(graph, database_url: str) -> None:
    runs, _ = graph
    logs = {
        e.materialization.partition: e.materialization.metadata
        for e in runs.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("spend_logs")
    }
    assert sorted(logs) == ["2026-02-26", "2026-02-27", "2026-02-28"]
    with psycopg.connect(database_url) as conn:
        days = conn.execute(
            """SELECT created_at::date::text, count(*), sum(spend) FROM "LiteLLM_SpendLogs"
               WHERE created_at >= %s AND created_at < '2026-03-01' GROUP BY 1""",
            (FIRST,),
        ).fetchall()
    assert len({rows for _, rows, _ in days}) > 1  # days differ, so a range total would show
    for day, rows, spend in days:
        assert logs[day]["rows"].value == rows
        assert logs[day]["spend"].value == pytest.approx(spend, abs=1e-6)


def test_the_breach_table_names_offenders_by_how_much_and_what_holds(
    seeded, graph, database_url: str
) -> None:
    runs, person_team = graph
    checks = {c.check_name: c for c in runs.get_asset_check_evaluations()}
    table = checks["no_budget_exceeded"].metadata["offenders"]
    assert isinstance(table, dg.TableMetadataValue)
    assert [c.name for c in table.schema.columns] == [
        "entity", "kind", "period", "ledger", "budget", "over by", "utilization", "first_exceeded_at", "action",
    ]  # fmt: skip
    rows = {(r.data["kind"], r.data["entity"]): r.data for r in table.records}
    assert checks["no_budget_exceeded"].metadata["exceeded"].value == len(rows)
    # every entity the seed put over budget: named, over by ledger - budget, blocked or flagged by llmusage
    for anomaly in (a for a in seeded.anomalies if a.kind == "over_budget"):
        name = _names(database_url, anomaly.entity_type)[anomaly.entity_id]
        row = rows[(anomaly.entity_type, entity_label(name, anomaly.entity_id))]
        ledger, budget = anomaly.detail["ledger"], anomaly.detail["max_budget"]
        assert row["budget"] == usd(budget) and row["period"] == "lifetime"
        assert row["over by"] == usd(ledger - budget)
        assert row["first_exceeded_at"] != "-"
        if (anomaly.entity_type, anomaly.entity_id) != ("team", person_team):
            assert row["action"] == ("blocked" if anomaly.entity_type in ("key", "team") else "flagged")
    key = next(a for a in seeded.anomalies if a.kind == "over_budget" and a.entity_type == "key")
    label = entity_label(_names(database_url, "key")[key.entity_id], key.entity_id)
    assert label.endswith(f"({key.entity_id[:8]})") and len(key.entity_id) == 64
    # the flags metadata: changes by name, blocked vs flagged, and the person's block
    [flags] = [
        e.materialization.metadata
        for e in runs.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("budget_flags")
    ]
    changes = {(r.data["kind"], r.data["change"]) for r in flags["changes"].records}
    assert ("key", "blocked") in changes and ("user", "flagged") in changes
    person = {r.data["entity"]: r.data for r in flags["person_blocks"].records}
    team = entity_label(_names(database_url, "team")[person_team], person_team)
    assert person[team]["kind"] == "team" and all(r["kind"] in ("key", "team") for r in person.values())
    if ("team", team) in rows:  # over budget too: the person's block stands, llmusage adds none
        assert rows[("team", team)]["action"] == "blocked by a person"


def test_a_current_lake_is_zero_minutes_behind() -> None:
    now = datetime(2026, 3, 1, 12, 0)
    assert LakeLag(postgres_newest=now, lake_newest=now).behind_minutes == 0.0
    assert LakeLag(postgres_newest=now, lake_newest=datetime(2026, 3, 1, 11, 30)).behind_minutes == 30.0
    assert LakeLag(postgres_newest=now, lake_newest=None).behind_minutes is None


def test_the_freshness_check_on_a_current_lake(graph) -> None:
    runs, _ = graph
    [fresh] = [c for c in runs.get_asset_check_evaluations() if c.check_name == "lake_is_fresh"]
    assert fresh.passed and fresh.metadata["behind_minutes"].value == 0.0


def test_usd() -> None:
    assert usd(-7.84) == "-$7.84"
    assert usd(7.84) == "$7.84"
    assert usd(1234567.891) == "$1,234,567.89"
    assert usd(None) == "-"
    assert usd(-0.001) == "$0.00"
    assert usd(-0.00004, 4) == "$0.0000" and usd(-1.23456, 4) == "-$1.2346"


def test_no_dollar_sign_formatting_outside_usd() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("src", "pipelines")
        for path in Path(ROOT, folder).rglob("*.py")
        if path.name != "money.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "${" in line and ('f"' in line or "f'" in line) and ":," in line
    ]
    assert not offenders, offenders
