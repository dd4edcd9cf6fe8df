"""The lake under faults: an extract killed with -9 mid-partition, then run again; two extracts at once.

In both cases the lake must end equal to a clean run's: the same partitions, the same rows, the same sums.
The kill is deterministic: the extract runs in a subprocess whose `publish_file` (the rename that switches
a partition) is wrapped to stop, after the first partition is published, with the next one's aside file
fully written, and to tell the test so; the test then sends SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llmusage.lake.extract import extract
from support.proxy import wait_for

pytestmark = pytest.mark.slow  # a fault, outage, crash or soak test: left out of `make test-fast`

ROWS_PER_DAY = 20_000
DAYS = 3

BLOCKING_EXTRACT = """
import sys, time
from pathlib import Path
import llmusage.lake.extract as ex

real = ex.publish_file
calls = []
def publish(aside, target):
    calls.append(target)
    if len(calls) == 2:
        Path(sys.argv[3]).write_text(str(aside))
        time.sleep(120)
    real(aside, target)
ex.publish_file = publish
ex.extract(sys.argv[1], Path(sys.argv[2]), ex.ExtractOptions(workers=1))
"""


@pytest.fixture(scope="module")
def url(database_url: str) -> str:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, api_provider, total_tokens,
                   prompt_tokens, completion_tokens, spend, "user", team_id, metadata, created_at)
               SELECT 'r-' || g, 'k' || (g %% 7), 'chat', 'openai', 30, 10, 20, (g %% 13) * 1e-5,
                      'u' || (g %% 5), 't' || (g %% 3), jsonb_build_object('tags', jsonb_build_array('n:' || (g %% 4))),
                      timestamp '2026-03-01' + (g * (%s::float / %s)) * interval '1 second'
               FROM generate_series(0, %s - 1) g""",
            (DAYS * 86_400, DAYS * ROWS_PER_DAY, DAYS * ROWS_PER_DAY),
        )
    return database_url


def contents(lake: Path) -> dict[str, pa.Table]:
    out = {}
    for part in sorted((lake / "spend_logs").glob("date=*")):
        files = sorted(part.glob("*.parquet"))
        assert [f.name for f in files] == ["part-0.parquet"], files  # one file per day, no stray aside
        table = pq.read_table(files[0])
        out[part.name] = table.sort_by("request_id")
    assert not list((lake / "spend_logs").glob("date=*/.*tmp"))
    return out


def assert_same_lake(lake: Path, clean: Path) -> None:
    got, want = contents(lake), contents(clean)
    assert list(got) == list(want) and len(want) == DAYS
    for name in want:
        assert got[name].num_rows == want[name].num_rows == ROWS_PER_DAY
        assert got[name].equals(want[name]), name
        assert sum(got[name]["spend"].to_pylist()) == pytest.approx(sum(want[name]["spend"].to_pylist()))


@pytest.fixture(scope="module")
def clean_lake(url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("clean") / "lake"
    report = extract(url, lake)
    assert report.rows == DAYS * ROWS_PER_DAY
    return lake


def _blocked_extract(url: str, lake: Path, marker: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", BLOCKING_EXTRACT, url, str(lake), str(marker)])
    if not wait_for(lambda: marker.exists() or proc.poll() is not None, timeout=60):
        proc.kill()
    assert marker.exists(), f"the extract never reached its second partition (exit {proc.poll()})"
    return proc


def test_extract_killed_mid_partition_then_rerun(url: str, clean_lake: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    marker = tmp_path / "second-partition"
    proc = _blocked_extract(url, lake, marker)
    try:
        aside = Path(marker.read_text())
        assert aside.exists() and aside.stat().st_size > 0  # the second partition is written aside
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    published = sorted(p.parent.name for p in (lake / "spend_logs").glob("date=*/part-0.parquet"))
    assert len(published) == 1  # killed between partitions: one switched, one aside, one not started
    assert aside.exists()
    report = extract(url, lake)  # a plain re-run
    assert {p.day.isoformat() for p in report.partitions} >= {"2026-03-02", "2026-03-03"}
    assert_same_lake(lake, clean_lake)
    assert extract(url, lake).partitions == []  # and a third run has nothing left to do


def test_two_extracts_at_once_one_refuses(url: str, clean_lake: Path, tmp_path: Path) -> None:
    from support.db import run_cli

    home = tmp_path / "home"
    lake = home / "lake"
    marker = tmp_path / "second-partition"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    env.update(LLMUSAGE_DATABASE_URL=url, LLMUSAGE_HOME=str(home))
    proc = _blocked_extract(url, lake, marker)
    try:
        second = run_cli("extract", env=env, timeout=60)
        assert second.returncode != 0
        assert "another extract is writing this lake" in second.stderr
        assert "Traceback" not in second.stderr
        print(second.stderr.strip())
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    # two real extracts racing, after the kill: each finishes or refuses cleanly, the lake ends right
    racers = [
        subprocess.Popen(
            [sys.executable, "-m", "llmusage", "extract"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = []
    for racer in racers:
        _, err = racer.communicate(timeout=120)
        outcomes.append(racer.returncode)
        assert racer.returncode == 0 or "another extract is writing this lake" in err, err
    assert 0 in outcomes
    assert_same_lake(lake, clean_lake)
