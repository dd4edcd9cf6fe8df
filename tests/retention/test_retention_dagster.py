"""Retention in the Dagster code location: off unless configured (no schedule without LLMUSAGE_RETENTION_DAYS,
and the asset deletes nothing), the daily schedule when it is set, and the asset pruning verified days with
its per-day table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from llmusage.config import Settings
from llmusage.devtools.seed import SeedOptions, seed
from llmusage.errors import LlmusageError
from llmusage.lake.extract import ExtractOptions, extract
from support.db import ROOT

warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)")

from pipelines.assets.retention import spend_logs_retention  # noqa: E402
from pipelines.resources import LakeResource, PostgresResource  # noqa: E402

END = datetime(2026, 3, 1)
LOAD = """
import json, warnings
warnings.simplefilter("ignore")
from pipelines.definitions import defs
print(json.dumps({s.name: [s.default_status.value, s.cron_schedule] for s in defs.schedules}))
"""


def _schedules(**env: str) -> dict:
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


def test_no_retention_schedule_unless_configured() -> None:
    assert "retention_schedule" not in _schedules()
    on = _schedules(LLMUSAGE_RETENTION_DAYS="30", LLMUSAGE_AUTOMATION="off")
    assert on["retention_schedule"] == ["STOPPED", "30 4 * * *"]


def test_the_setting_is_a_whole_number_of_days() -> None:
    assert Settings.from_env({}).retention_days is None
    assert Settings.from_env({"LLMUSAGE_RETENTION_DAYS": " 90 "}).retention_days == 90
    for bad in ("0", "-1", "a month", "1.5"):
        with pytest.raises(LlmusageError, match="LLMUSAGE_RETENTION_DAYS must be a whole number of days"):
            Settings.from_env({"LLMUSAGE_RETENTION_DAYS": bad})


def test_the_schedule_asks_for_one_run_a_day() -> None:
    from pipelines.schedules import retention_schedule

    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 6, 1, 4, 30, tzinfo=UTC))
    [request] = retention_schedule.evaluate_tick(context).run_requests
    assert request.run_key == "retention-20260601" and retention_schedule.job_name == "retention_job"


@pytest.fixture(scope="module")
def lake(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with psycopg.connect(database_url) as conn:
        seed(conn, SeedOptions(logs=1_500, days=5, seed=4, end=END, reset=True))
    home = tmp_path_factory.mktemp("home")
    extract(database_url, home / "lake", ExtractOptions())
    return home


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute('SELECT count(*) FROM "LiteLLM_SpendLogs"').fetchone()[0]


def test_the_asset_does_nothing_unless_configured_then_prunes(
    lake: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMUSAGE_RETENTION_DAYS", raising=False)
    resources = {
        "postgres": PostgresResource(database_url=database_url),
        "lake": LakeResource(home=str(lake)),
    }
    before = _count(database_url)
    off = dg.materialize([spend_logs_retention], resources=resources, instance=dg.DagsterInstance.ephemeral())
    [event] = off.get_asset_materialization_events()
    assert event.materialization.metadata["retention"].value.startswith("off: set LLMUSAGE_RETENTION_DAYS")
    assert _count(database_url) == before

    keep = (datetime.now(UTC).date() - date(2026, 2, 27)).days  # prune 2026-02-24, 25 and 26
    monkeypatch.setenv("LLMUSAGE_RETENTION_DAYS", str(keep))
    on = dg.materialize([spend_logs_retention], resources=resources, instance=dg.DagsterInstance.ephemeral())
    metadata = on.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["days_pruned"].value == 3 and metadata["keep_days"].value == keep
    assert metadata["rows_deleted"].value == before - _count(database_url) > 0
    days = metadata["days"].records
    assert [(r.data["day"], r.data["outcome"]) for r in days] == [
        (f"2026-02-{d}", "pruned") for d in (24, 25, 26)
    ]
