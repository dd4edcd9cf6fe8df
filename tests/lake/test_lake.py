"""The lake and the warehouse against a real PostgreSQL, with real files and a real DuckDB reader."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llmusage.devtools.seed import SeedOptions, seed
from llmusage.errors import LlmusageError
from llmusage.lake import extract as extract_module
from llmusage.lake.dims import snapshot_dims
from llmusage.lake.extract import ExtractOptions, extract
from llmusage.lake.layout import PART_FILE, partition_dir
from llmusage.lake.lock import lake_lock
from llmusage.lake.state import LakeState
from llmusage.lake.warehouse import build
from llmusage.sources.spend_logs import NORMALIZED_COLUMNS
from support.db import run_cli

END = datetime(2026, 1, 10)  # exclusive: the seed covers 2026-01-07 .. 2026-01-09
DAYS = [date(2026, 1, 7), date(2026, 1, 8), date(2026, 1, 9)]
ANALYST = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
query = "SELECT sum(requests) FROM spend_daily"
print(conn.execute(query).fetchone()[0], flush=True)
sys.stdin.readline()
print(conn.execute(query).fetchone()[0], flush=True)
sys.stdin.readline()
"""
INSERT = (
    'INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, "user", team_id, metadata, created_at) '
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


@pytest.fixture(scope="module")
def seeded(database_url: str) -> str:
    """3,000 seeded logs over three days, plus rows on both sides of midnight and rows full of NULLs."""
    with psycopg.connect(database_url) as conn:
        seed(conn, SeedOptions(logs=3000, days=3, seed=11, end=END, reset=True))
        rows = [
            ("edge-before-midnight", "k1", "gpt", 0.25, "u1", "t1", '{"tags": ["edge"]}', datetime(2026, 1, 8, 23, 59, 59, 999999)),
            ("edge-at-midnight", "k1", "gpt", 0.5, "u1", "t1", '{"tags": ["edge"]}', datetime(2026, 1, 9)),
            ("nulls-1", None, None, None, None, None, None, datetime(2026, 1, 7, 12)),
            ("nulls-2", None, "gpt", 1.0, None, None, '{"z": 1, "tags": ["x\\"q", "b]c"]}', datetime(2026, 1, 7, 13)),
        ]  # fmt: skip
        conn.cursor().executemany(INSERT, rows)
    return database_url


def postgres_days(url: str) -> dict[date, tuple[int, float, int]]:
    """Per UTC day: rows, spend, rows with a NULL user."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            'SELECT created_at::date, count(*), coalesce(sum(spend), 0), count(*) - count("user") '
            'FROM "LiteLLM_SpendLogs" GROUP BY 1'
        ).fetchall()
    return {d: (n, float(s), nulls) for d, n, s, nulls in rows}


def read_partition(lake: Path, day: date) -> pa.Table:
    return pq.read_table(partition_dir(lake, day) / PART_FILE)


def lake_days(lake: Path) -> dict[date, tuple[int, float, int]]:
    found = {}
    for path in sorted((lake / "spend_logs").glob("date=*")):
        day = date.fromisoformat(path.name.removeprefix("date="))
        table = read_partition(lake, day)
        spend = math.fsum(v for v in table.column("spend").to_pylist() if v is not None)
        found[day] = (table.num_rows, spend, table.column("user_id").null_count)
    return found


def assert_same_days(lake_side: dict, pg_side: dict) -> None:
    assert lake_side.keys() == pg_side.keys()
    for day, (n, spend, nulls) in pg_side.items():
        assert lake_side[day][0] == n, day
        assert math.isclose(lake_side[day][1], spend, rel_tol=1e-9), day
        assert lake_side[day][2] == nulls, day


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def extra_rows(seeded: str) -> Iterator[list[str]]:
    """Request ids a test inserts; deleted afterwards so the module's data stays as seeded."""
    ids: list[str] = []
    yield ids
    with psycopg.connect(seeded) as conn:
        conn.execute('DELETE FROM "LiteLLM_SpendLogs" WHERE request_id = ANY(%s)', (ids,))


def insert(url: str, ids: list[str], request_id: str, created_at: datetime, spend: float = 1.5) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(INSERT, (request_id, "k9", "gpt", spend, "u9", "t9", '{"tags": ["late"]}', created_at))
    ids.append(request_id)


def test_partitions_match_postgres(seeded: str, lake: Path) -> None:
    report = extract(seeded, lake)
    assert [p.day for p in report.partitions] == DAYS
    assert_same_days(lake_days(lake), postgres_days(seeded))
    table = pa.concat_tables(read_partition(lake, d) for d in DAYS)
    assert table.num_rows == 3004
    assert len(set(table.column("request_id").to_pylist())) == table.num_rows  # no request twice
    assert table.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("metadata").type == pa.string()
    assert table.schema.field("tags").type == pa.list_(pa.string())
    assert "payload" not in table.schema.names
    state = LakeState.load(lake)
    assert state.get(DAYS[0]).rows == postgres_days(seeded)[DAYS[0]][0]  # type: ignore[union-attr]


def test_nulls_and_tags(seeded: str, lake: Path) -> None:
    extract(seeded, lake)
    rows = {r["request_id"]: r for r in read_partition(lake, DAYS[0]).to_pylist()}
    assert rows["nulls-1"]["spend"] is None and rows["nulls-1"]["metadata"] is None
    assert rows["nulls-1"]["tags"] is None and rows["nulls-1"]["api_key"] is None
    assert rows["nulls-2"]["tags"] == ['x"q', "b]c"]  # not the fast path: parsed as JSON
    seeded_row = next(r for r in rows.values() if r["request_id"].startswith(("req", "chatcmpl")))
    assert seeded_row["tags"] and all(
        t.split(":")[0] in {"env", "app", "feature"} for t in seeded_row["tags"]
    )


def test_midnight_edges_land_in_their_utc_day(seeded: str, lake: Path) -> None:
    extract(seeded, lake)
    before = read_partition(lake, date(2026, 1, 8)).column("request_id").to_pylist()
    after = read_partition(lake, date(2026, 1, 9)).column("request_id").to_pylist()
    assert "edge-before-midnight" in before and "edge-before-midnight" not in after
    assert "edge-at-midnight" in after and "edge-at-midnight" not in before
    row = next(
        r
        for r in read_partition(lake, date(2026, 1, 8)).to_pylist()
        if r["request_id"] == "edge-before-midnight"
    )
    assert row["event_time"] == datetime(2026, 1, 8, 23, 59, 59, 999999, tzinfo=row["event_time"].tzinfo)
    assert row["event_time"].utcoffset() == timedelta(0)


def test_rerun_is_a_no_op_and_a_backfill_gives_the_same_rows(seeded: str, lake: Path) -> None:
    extract(seeded, lake)
    first = {d: read_partition(lake, d) for d in DAYS}
    assert extract(seeded, lake).partitions == []  # nothing changed: nothing rewritten
    again = extract(seeded, lake, ExtractOptions(days=(DAYS[0], DAYS[-1])))
    assert [p.day for p in again.partitions] == DAYS
    for day in DAYS:
        key = [("request_id", "ascending")]
        assert read_partition(lake, day).sort_by(key).equals(first[day].sort_by(key))


def test_crash_mid_write_keeps_the_previous_partition(
    seeded: str, lake: Path, extra_rows: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    extract(seeded, lake)
    target = partition_dir(lake, DAYS[1]) / PART_FILE
    before = target.read_bytes()
    state_before = LakeState.load(lake).get(DAYS[1])
    insert(seeded, extra_rows, "crash-row", datetime(2026, 1, 8, 10))

    def crash(aside: Path, target: Path) -> None:
        assert aside.exists() and aside.stat().st_size > 0  # the new file was fully written aside
        raise OSError("disk on fire")

    monkeypatch.setattr(extract_module, "publish_file", crash)
    with pytest.raises(OSError, match="disk on fire"):
        extract(seeded, lake, ExtractOptions(days=(DAYS[1], DAYS[1])))
    assert target.read_bytes() == before
    assert LakeState.load(lake).get(DAYS[1]) == state_before
    monkeypatch.undo()
    extract(seeded, lake, ExtractOptions(days=(DAYS[1], DAYS[1])))
    assert "crash-row" in read_partition(lake, DAYS[1]).column("request_id").to_pylist()
    assert not list(partition_dir(lake, DAYS[1]).glob(".*"))  # no aside file left behind


def test_late_rows_inside_the_lag_window_are_caught(seeded: str, lake: Path, extra_rows: list[str]) -> None:
    extract(seeded, lake)
    watermark = LakeState.load(lake).watermark_datetime()
    assert watermark is not None and watermark.date() == DAYS[-1]
    insert(seeded, extra_rows, "late-inside", watermark - timedelta(minutes=30))
    insert(seeded, extra_rows, "late-outside", datetime(2026, 1, 7, 9))  # older than the lag: not seen
    report = extract(seeded, lake)
    assert [p.day for p in report.partitions] == [DAYS[-1]]
    assert "late-inside" in read_partition(lake, DAYS[-1]).column("request_id").to_pylist()
    assert "late-outside" not in read_partition(lake, DAYS[0]).column("request_id").to_pylist()
    extract(seeded, lake, ExtractOptions(days=(DAYS[0], DAYS[0])))  # an explicit backfill finds it
    assert "late-outside" in read_partition(lake, DAYS[0]).column("request_id").to_pylist()


def test_a_new_day_costs_that_day_only(seeded: str, lake: Path, extra_rows: list[str]) -> None:
    extract(seeded, lake)
    written = {d: (partition_dir(lake, d) / PART_FILE).stat().st_mtime_ns for d in DAYS}
    for i in range(5):
        insert(seeded, extra_rows, f"new-day-{i}", datetime(2026, 1, 10, 8 + i), spend=0.1 * (i + 1))
    report = extract(seeded, lake)
    assert [(p.day, p.rows) for p in report.partitions] == [(date(2026, 1, 10), 5)]
    assert math.isclose(report.spend, 1.5, rel_tol=1e-9)
    assert report.checked_days <= 2  # the lag window, not the table
    assert {d: (partition_dir(lake, d) / PART_FILE).stat().st_mtime_ns for d in DAYS} == written
    for request_id in list(extra_rows):  # the day disappears from Postgres: its partition goes too
        with psycopg.connect(seeded) as conn:
            conn.execute('DELETE FROM "LiteLLM_SpendLogs" WHERE request_id = %s', (request_id,))
    extract(seeded, lake)
    assert not partition_dir(lake, date(2026, 1, 10)).exists()


def test_explicit_day_without_rows_drops_its_partition(
    seeded: str, lake: Path, extra_rows: list[str]
) -> None:
    insert(seeded, extra_rows, "lonely", datetime(2026, 1, 12, 9))
    extract(seeded, lake, ExtractOptions(days=(date(2026, 1, 12), date(2026, 1, 12))))
    assert read_partition(lake, date(2026, 1, 12)).num_rows == 1
    with psycopg.connect(seeded) as conn:
        conn.execute("DELETE FROM \"LiteLLM_SpendLogs\" WHERE request_id = 'lonely'")
    report = extract(seeded, lake, ExtractOptions(days=(date(2026, 1, 11), date(2026, 1, 12))))
    assert [(p.day, p.rows, p.path) for p in report.partitions] == [(date(2026, 1, 12), 0, None)]
    assert not partition_dir(lake, date(2026, 1, 12)).exists()
    assert LakeState.load(lake).get(date(2026, 1, 12)) is None


def test_dimension_snapshots(seeded: str, lake: Path) -> None:
    counts = snapshot_dims(seeded, lake)
    tables = {
        "keys": "LiteLLM_VerificationToken",
        "users": "LiteLLM_UserTable",
        "teams": "LiteLLM_TeamTable",
        "organizations": "LiteLLM_OrganizationTable",
        "models": "LiteLLM_ProxyModelTable",
    }
    with psycopg.connect(seeded) as conn:
        for name, table in tables.items():
            [(expected,)] = conn.execute(f'SELECT count(*) FROM "{table}"').fetchall()
            snapshot = pq.read_table(lake / "dims" / f"{name}.parquet")
            assert counts[name] == snapshot.num_rows == expected > 0, name
    keys = pq.read_table(lake / "dims" / "keys.parquet")
    assert keys.schema.field("metadata").type == pa.string()
    assert keys.schema.field("models").type == pa.list_(pa.string())
    assert keys.schema.field("created_at").type.tz == "UTC"


def test_warehouse_build_while_an_analyst_holds_the_old_file(
    seeded: str, lake: Path, tmp_path: Path, extra_rows: list[str]
) -> None:
    from llmusage.reconcile import reconcile
    from llmusage.reconcile.store import save

    extract(seeded, lake)
    snapshot_dims(seeded, lake)
    save(reconcile(seeded, lake), tmp_path / "reconcile")  # the verdict the warehouse's budget_status shows
    target = tmp_path / "warehouse.duckdb"
    names = {o.name for o in build(lake, target, tmp_path / "reconcile")}
    assert names == {
        "spend_logs", "keys", "users", "teams", "organizations", "models",
        "spend_daily", "budget_status", "chargeback_monthly",
        "spend_lines", "spend_by_team_day", "chargeback_lines", "spend_anomalies",  # reports (issue 7)
    }  # fmt: skip
    # The analyst is another process (DuckDB shares one instance per path within a process).
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(target)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert analyst.stdout is not None and analyst.stdin is not None
        before = int(analyst.stdout.readline())
        assert before == 3004
        insert(seeded, extra_rows, "after-first-build", datetime(2026, 1, 9, 12), spend=2.0)
        extract(seeded, lake)
        build(
            lake, target, tmp_path / "reconcile"
        )  # must not fail nor wait while the analyst's read-only connection is open
        analyst.stdin.write("again\n")
        analyst.stdin.flush()
        assert int(analyst.stdout.readline()) == before  # the analyst still reads the old file
        with duckdb.connect(str(target), read_only=True) as fresh:
            assert fresh.execute("SELECT sum(requests) FROM spend_daily").fetchone() == (3005,)
            status = fresh.execute("SELECT count(*) FROM budget_status WHERE entity_type = 'team'").fetchone()
            assert status and status[0] > 0
            months = fresh.execute("SELECT DISTINCT month FROM chargeback_monthly").fetchall()
            assert months == [(date(2026, 1, 1),)]
    finally:
        if analyst.stdin is not None:
            analyst.stdin.close()
        assert analyst.wait(timeout=30) == 0
    assert not list(tmp_path.glob(".warehouse.duckdb*"))


def test_warehouse_needs_a_lake(tmp_path: Path) -> None:
    with pytest.raises(LlmusageError, match="run `llmusage extract` first"):
        build(tmp_path / "lake", tmp_path / "warehouse.duckdb")


def test_second_extract_refuses_while_the_first_holds_the_lock(cli_env: dict[str, str], seeded: str) -> None:
    lake_dir = Path(cli_env["LLMUSAGE_HOME"]) / "lake"
    with lake_lock(lake_dir):
        result = run_cli("extract", env=cli_env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"another extract is writing this lake (pid {os.getpid()}" in result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--date", "2026-02-30"], "--date must be a date"),
        (["--from", "2026-01-09", "--to", "2026-01-07"], "is before --from"),
        (["--from", "2026-01-07"], "--from and --to go together"),
        (["--date", "2026-01-07", "--to", "2026-01-08"], "either --date or --from/--to"),
        (["--lag-hours", "-1"], "--lag-hours must not be negative"),
    ],
)
def test_extract_bad_input_is_one_line(cli_env: dict[str, str], args: list[str], needle: str) -> None:
    result = run_cli("extract", *args, env=cli_env)
    assert result.returncode == 1, result.stdout
    assert result.stderr.count("\n") == 1 and needle in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_cli_extract_then_warehouse_build(cli_env: dict[str, str], seeded: str) -> None:
    first = run_cli("extract", env=cli_env)
    assert first.returncode == 0, first.stderr
    assert "3 partitions written (3,004 rows" in first.stdout
    again = run_cli("extract", env=cli_env)
    assert "0 partitions written" in again.stdout
    built = run_cli("warehouse", "build", env=cli_env)
    assert built.returncode == 0, built.stderr
    home = Path(cli_env["LLMUSAGE_HOME"])
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM spend_logs").fetchone() == (3004,)


def test_payload_only_when_asked_and_the_normalized_shape_is_fixed(
    seeded: str, lake: Path, tmp_path: Path, extra_rows: list[str]
) -> None:
    """The lake holds the normalized spend log whatever PostgreSQL adds: a new column stays out, bodies
    come in only when asked for, and partitions without them stay readable beside those with them."""
    extract(seeded, lake)
    with psycopg.connect(seeded) as conn:
        conn.execute('ALTER TABLE "LiteLLM_SpendLogs" ADD COLUMN "region" TEXT')
        conn.execute(
            """UPDATE "LiteLLM_SpendLogs" SET region = 'eu', payload = '{"p": 1}' WHERE request_id = 'edge-at-midnight'"""
        )
    try:
        assert "payload" not in read_partition(lake, DAYS[-1]).schema.names
        extract(seeded, lake, ExtractOptions(days=(DAYS[-1], DAYS[-1]), with_payload=True))
        newest = read_partition(lake, DAYS[-1])
        assert "payload" in newest.schema.names and "region" not in newest.schema.names
        assert list(read_partition(lake, DAYS[0]).schema.names) == list(NORMALIZED_COLUMNS)
        snapshot_dims(seeded, lake)
        build(lake, tmp_path / "w.duckdb")
        with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
            payloads = conn.execute(
                "SELECT date, count(payload) FROM spend_logs GROUP BY 1 ORDER BY 1"
            ).fetchall()
            payload = conn.execute(
                "SELECT payload FROM spend_logs WHERE request_id = 'edge-at-midnight'"
            ).fetchone()
        assert payloads == [(DAYS[0], 0), (DAYS[1], 0), (DAYS[2], 1)]
        assert payload == ('{"p": 1}',)
    finally:
        with psycopg.connect(seeded) as conn:
            conn.execute('ALTER TABLE "LiteLLM_SpendLogs" DROP COLUMN "region"')
            conn.execute(
                "UPDATE \"LiteLLM_SpendLogs\" SET payload = NULL WHERE request_id = 'edge-at-midnight'"
            )


def test_tags_from_metadata_edge_cases() -> None:
    from llmusage.lake.tags import tags_from_metadata

    texts = [
        '{"tags": ["env:prod", "app:x"], "a": 1}',
        '{"tags": []}',
        None,
        '{"a": {"tags": ["n"]}, "tags": ["x]y", "q\\"", "\\u00e9"]}',
        '{"b": 1}',
        '{"tags": "not a list"}',
        '{"tags": [""]}',
    ]
    got = tags_from_metadata(pa.array(texts)).to_pylist()
    assert got == [["env:prod", "app:x"], [], None, ["x]y", 'q"', "é"], None, None, [""]]
    assert tags_from_metadata(pa.array(texts).slice(1, 3)).to_pylist() == [[], None, ["x]y", 'q"', "é"]]
