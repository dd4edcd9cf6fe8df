"""A frozen month meets late data: a log for a closed month lands after its statement was frozen.

The frozen statement keeps its bytes (and says so) after the late log is extracted; `--restate` takes the
log in; a month is closed exactly when the lake was written `LAG_WINDOW` after the month ended, not a
microsecond before. Figures are computed by hand from the logs below.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from llmusage.lake.dims import snapshot_dims
from llmusage.lake.extract import ExtractOptions, extract
from llmusage.lake.lag import LAG_WINDOW
from llmusage.lake.state import LakeState
from llmusage.reports.chargeback import chargeback
from support.db import run_cli

LOGS = [  # (request_id, created_at, team, spend)
    ("m1", datetime(2026, 3, 3, 9), "team-l", 0.25),
    ("m2", datetime(2026, 3, 30, 18), "team-l", 0.125),
    ("a1", datetime(2026, 4, 2, 8), "team-l", 0.5),
]
LATE = ("late-1", datetime(2026, 3, 31, 23, 30), "team-l", 0.0625)  # lands after March was frozen
MONTH_END = datetime(2026, 4, 1)
FILES = ("chargeback.csv", "chargeback.parquet", "summary.md", "manifest.json")


def _insert(conn: psycopg.Connection, rid: str, at: datetime, team: str, spend: float) -> None:
    conn.execute(
        """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, api_provider, prompt_tokens,
           completion_tokens, total_tokens, spend, team_id, metadata, created_at)
           VALUES (%s, 'k-late', 'gpt-4o', 'openai', 1, 1, 2, %s, %s, '{}', %s)""",
        (rid, spend, team, at),
    )


@pytest.fixture(scope="module")
def lake(database_url: str, cli_env: dict[str, str]) -> Path:
    with psycopg.connect(database_url) as conn:
        conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias) VALUES ('team-l', 'late')""")
        for row in LOGS:
            _insert(conn, *row)
    lake_dir = Path(cli_env["LLMUSAGE_HOME"]) / "lake"
    extract(database_url, lake_dir, ExtractOptions(days=(date(2026, 3, 1), date(2026, 4, 2))))
    snapshot_dims(database_url, lake_dir)
    return lake_dir


def test_a_frozen_month_keeps_its_bytes_when_late_data_lands_and_restate_takes_it(
    lake: Path, database_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    first = chargeback(lake, "2026-03", "team", out=tmp_path)
    assert first.status == "closed" and first.written and first.total == Decimal("0.375")
    frozen = {name: (first.directory / name).read_bytes() for name in FILES}
    with psycopg.connect(database_url) as conn:
        _insert(conn, *LATE)
    report = extract(database_url, lake, ExtractOptions(days=(date(2026, 3, 31), date(2026, 3, 31))))
    assert [(p.day, p.rows) for p in report.partitions] == [(date(2026, 3, 31), 1)]  # the late log is in

    again = chargeback(lake, "2026-03", "team", out=tmp_path)
    assert (again.status, again.written, again.total) == ("closed", False, Decimal("0.375"))
    assert {name: (first.directory / name).read_bytes() for name in FILES} == frozen
    cli = run_cli("chargeback", "--month", "2026-03", "--by", "team", "--out", str(tmp_path), env=cli_env)
    assert cli.returncode == 0, cli.stderr
    assert "$0.38 USD" in cli.stdout and "left unchanged (--restate rebuilds)" in cli.stdout
    assert {name: (first.directory / name).read_bytes() for name in FILES} == frozen

    restated = chargeback(lake, "2026-03", "team", out=tmp_path, restate=True)
    assert restated.status == "closed" and restated.written
    assert restated.total == Decimal("0.4375") and restated.requests == 3  # m1, m2 and the late log
    csv = (restated.directory / "chargeback.csv").read_bytes()
    assert csv != frozen["chargeback.csv"] and b"2026-03-31" in csv
    assert "$0.44 USD" in (restated.directory / "summary.md").read_text()
    # April is not touched by March's restatement
    assert chargeback(lake, "2026-04", "team", out=tmp_path).total == Decimal("0.5")


def _extracted_at(lake: Path, copy: Path, moment: datetime) -> Path:
    """A copy of `lake` whose every partition says it was extracted at `moment`."""
    shutil.copytree(lake, copy)
    state = LakeState.load(copy)
    for day, record in list(state.partitions.items()):
        state.put(date.fromisoformat(day), dataclasses.replace(record, extracted_at=moment.isoformat()))
    return copy


@pytest.mark.parametrize(
    ("extracted_at", "status"),
    [
        (MONTH_END + LAG_WINDOW, "closed"),
        (MONTH_END + LAG_WINDOW - timedelta(microseconds=1), "provisional"),
        (MONTH_END - LAG_WINDOW, "provisional"),
    ],
)
def test_a_month_closes_exactly_at_its_end_plus_the_lag_window(
    lake: Path, tmp_path: Path, extracted_at: datetime, status: str
) -> None:
    copy = _extracted_at(lake, tmp_path / "lake", extracted_at)
    statement = chargeback(copy, "2026-03", "team", out=tmp_path)
    assert statement.status == status and statement.manifest["status"] == status
    if status == "provisional":  # rebuilt on every run, never frozen
        again = chargeback(copy, "2026-03", "team", out=tmp_path)
        assert again.written and again.status == "provisional"
