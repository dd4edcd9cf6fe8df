"""Retention on an llmusage database with a real lake: the dry run deletes nothing; --apply deletes only the
days whose partition matches PostgreSQL, in several short DELETE transactions, one record per day; a tampered
partition, a late log and a day the lake lacks are skipped and kept; reconciliation, reports and chargeback
give the same results before and after; later extracts never touch a pruned partition; the CLI's lines and
exit codes."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pyarrow.parquet as pq
import pytest

from llmusage.devtools.seed import SeedOptions, seed
from llmusage.lake.dims import snapshot_dims
from llmusage.lake.extract import ExtractOptions, extract
from llmusage.lake.layout import partition_path, spend_log_partitions
from llmusage.lake.state import LakeState
from llmusage.reconcile.compute import ReconcileOptions, reconcile
from llmusage.reports.chargeback import chargeback_lines
from llmusage.reports.spend import spend_report
from llmusage.retention.plan import RetentionOptions, Verdict
from llmusage.retention.prune import retention
from support.db import cli_env_for, run_cli

END = datetime(2026, 3, 1)  # ten seeded days: 2026-02-19 .. 2026-02-28
AS_OF = datetime(2026, 3, 1, 12)
KEEP = 4  # logs before 2026-02-25 are old enough
TAMPERED, LATE, MISSING = date(2026, 2, 20), date(2026, 2, 21), date(2026, 2, 10)
PRUNED = [date(2026, 2, 19), *(date(2026, 2, d) for d in range(22, 25))]
BATCH = 150
LATE_LOG = """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, api_provider, total_tokens, prompt_tokens,
                  completion_tokens, spend, "user", team_id, metadata, created_at)
              SELECT %(id)s, api_key, model, api_provider, total_tokens, prompt_tokens, completion_tokens,
                  %(spend)s, "user", team_id, metadata, %(at)s
              FROM "LiteLLM_SpendLogs" ORDER BY request_id LIMIT 1"""


def _pg(url: str, query: str, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def _per_day(url: str) -> dict[date, tuple[int, float]]:
    rows = _pg(url, 'SELECT created_at::date, count(*), sum(spend) FROM "LiteLLM_SpendLogs" GROUP BY 1')
    return {d: (n, s) for d, n, s in rows}


def _results(url: str, lake: Path) -> dict[str, pl.DataFrame]:
    """What people read: reconciliation (statuses, ledgers, drift), the spend report, chargeback."""
    entities = reconcile(url, lake, ReconcileOptions(as_of=AS_OF)).entities
    return {
        "reconcile": entities,
        "report": spend_report(lake, "team,day").frame,
        "chargeback_team": chargeback_lines(lake, "2026-02", "team"),
        "chargeback_org": chargeback_lines(lake, "2026-02", "org"),
    }


def _rounded(value: object) -> object:
    """Floats to 9 places (a millionth of a cent): DuckDB sums in parallel, in no fixed order, so two runs
    on the same lake may differ in the last bits."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _rows(frame: pl.DataFrame) -> list:
    """The rows, rounded, in a fixed order (ties in a report's order, e.g. equal spend, are in no fixed order)."""
    return sorted(map(_rounded, frame.to_dicts()), key=repr)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lake(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten seeded days in the lake; then a tampered partition, a late log, and a log the lake never saw."""
    with psycopg.connect(database_url) as conn:
        seed(conn, SeedOptions(logs=6_000, days=10, seed=11, end=END, reset=True))
    lake_dir = tmp_path_factory.mktemp("home") / "lake"
    extract(database_url, lake_dir, ExtractOptions())
    snapshot_dims(database_url, lake_dir)
    path = partition_path(lake_dir, TAMPERED)  # one row's spend changed in the lake only
    table = pq.read_table(path)
    spend = table.column("spend").to_pylist()
    spend[0] += 1.0
    pq.write_table(table.set_column(table.schema.get_field_index("spend"), "spend", [spend]), path)
    with psycopg.connect(database_url) as conn:
        for day, request in ((LATE, "late-log"), (MISSING, "before-the-lake")):
            conn.execute(
                LATE_LOG,
                {
                    "id": request,
                    "spend": 0.5,
                    "at": datetime.combine(day, datetime.min.time()) + timedelta(hours=9),
                },
            )
    return lake_dir


def _cli(database_url: str, lake: Path, *args: str):
    return run_cli("retention", *args, env=cli_env_for(database_url, lake.parent))


def _keep_until(day: date) -> str:
    """--keep-days that makes `day` the first day kept (the CLI counts back from the database's clock)."""
    return str((datetime.now(UTC).date() - day).days)


# The module's story, one fixture per step, each recording what the tests check (tests run in any order;
# asking for a later step runs the earlier ones first).


@pytest.fixture(scope="module")
def before(lake: Path, database_url: str) -> dict:
    """Before anything is deleted: the table per day, the results, and both dry runs."""
    pg = _per_day(database_url)
    results = _results(database_url, lake)
    dry = retention(database_url, lake, RetentionOptions(KEEP, as_of=AS_OF))
    cli = _cli(database_url, lake, "--keep-days", _keep_until(date(2026, 2, 25)))
    return {
        "pg": pg,
        "results": results,
        "dry": dry,
        "cli": cli,
        "pg_after_dry": _per_day(database_url),
        "pruned_after_dry": [d for d, r in LakeState.load(lake).partitions.items() if r.pruned_at],
        "files": {day: _digest(partition_path(lake, day)) for day in spend_log_partitions(lake)},
    }


@pytest.fixture(scope="module")
def applied(before: dict, lake: Path, database_url: str) -> dict:
    report = retention(database_url, lake, RetentionOptions(KEEP, apply=True, batch_size=BATCH, as_of=AS_OF))
    records = _pg(
        database_url,
        """SELECT day, rows_deleted, spend_deleted, batches, batch_size, lake_rows, rows_left, flavour
           FROM llmusage.spend_log_prunes ORDER BY day""",
    )
    return {
        "report": report,
        "pg": _per_day(database_url),
        "records": records,
        "state": LakeState.load(lake),
        "results": _results(database_url, lake),
    }


@pytest.fixture(scope="module")
def reextracted(applied: dict, lake: Path, database_url: str) -> dict:
    """Extracts after pruning (what changed, then 2026-02-10..28 explicitly), then retention twice more."""
    extract(database_url, lake, ExtractOptions())
    extract(database_url, lake, ExtractOptions(days=(date(2026, 2, 10), date(2026, 2, 28))))
    files = {day: _digest(partition_path(lake, day)) for day in PRUNED}
    state = LakeState.load(lake)
    options = RetentionOptions(KEEP, apply=True, batch_size=BATCH, as_of=AS_OF)
    again = retention(database_url, lake, options)
    old = _pg(database_url, "SELECT count(*) FROM \"LiteLLM_SpendLogs\" WHERE created_at < '2026-02-25'")
    last = retention(database_url, lake, options)
    records = _pg(database_url, "SELECT count(*) FROM llmusage.spend_log_prunes")
    return {"files": files, "state": state, "again": again, "old": old, "last": last, "records": records}


@pytest.fixture(scope="module")
def resumed(reextracted: dict, lake: Path, database_url: str) -> dict:
    """2026-02-25 marked as if a run had stopped before deleting it, and a late log on it that the lake lacks."""
    day = date(2026, 2, 25)
    state = LakeState.load(lake)
    record = state.get(day)
    assert record is not None
    state.mark_pruned(day, record, datetime.now(UTC))
    rows = _per_day(database_url)[day][0]
    with psycopg.connect(database_url) as conn:
        conn.execute(LATE_LOG, {"id": "late-after-prune", "spend": 0.25, "at": datetime(2026, 2, 25, 8)})
    report = retention(
        database_url, lake, RetentionOptions(KEEP - 1, apply=True, batch_size=BATCH, as_of=AS_OF)
    )
    left = _pg(database_url, 'SELECT request_id FROM "LiteLLM_SpendLogs" WHERE created_at::date = %s', (day,))
    return {"day": day, "rows": rows, "report": report, "left": left}


@pytest.fixture(scope="module")
def cli_applied(resumed: dict, lake: Path, database_url: str):
    return _cli(
        database_url, lake, "--keep-days", _keep_until(date(2026, 2, 27)), "--apply", "--batch-size", "100"
    )


def test_the_dry_run_deletes_nothing_and_says_why_days_stay(before: dict) -> None:
    report = before["dry"]
    assert not report.applied and not report.pruned
    verdicts = {d.day: d.verdict for d in report.plan.days}
    assert verdicts == {
        MISSING: Verdict.NOT_IN_LAKE,
        TAMPERED: Verdict.DISAGREES,
        LATE: Verdict.DISAGREES,
        **dict.fromkeys(PRUNED, Verdict.PRUNE),
    }
    assert report.plan.before == datetime(2026, 2, 25)
    assert before["pg_after_dry"] == before["pg"] and before["pruned_after_dry"] == []
    tampered = next(d for d in report.plan.days if d.day == TAMPERED)
    assert tampered.lake_rows == tampered.pg_rows and "PostgreSQL" in tampered.reason


def test_the_cli_dry_run(before: dict) -> None:
    done = before["cli"]
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    keep = _keep_until(date(2026, 2, 25))
    assert lines[0] == (
        f"retention (dry run): llmusage database, keep {keep} days: spend logs before 2026-02-25 00:00 UTC, "
        "days the lake holds exactly"
    )
    assert f"  {TAMPERED}  skipped (lake disagrees): " in done.stdout
    assert f"  {MISSING}  skipped (not in the lake): 1 rows, no lake partition" in done.stdout
    assert sum(f"  {d}  would delete " in done.stdout for d in PRUNED) == len(PRUNED)
    rows = sum(before["pg"][d][0] for d in PRUNED)
    assert lines[-2].startswith(f"total: would delete {rows:,} rows ($")
    assert lines[-2].endswith(" on 4 days; 3 days skipped")
    assert lines[-1] == "dry run: nothing was deleted; run again with --apply to delete"


@pytest.mark.parametrize("bad", ["0", "-3", "two", "1.5"])
def test_a_bad_keep_days_is_one_line(bad: str, database_url: str, tmp_path: Path) -> None:
    failed = run_cli("retention", "--keep-days", bad, env=cli_env_for(database_url, tmp_path))
    assert failed.returncode == 2 and failed.stdout == ""
    [line] = failed.stderr.splitlines()
    assert line.startswith("llmusage retention: error: Invalid value for '--keep-days': must be "), line


def test_keep_days_is_required(database_url: str, tmp_path: Path) -> None:
    missing = run_cli("retention", env=cli_env_for(database_url, tmp_path))
    assert missing.returncode == 2 and "--keep-days" in missing.stderr


def test_apply_deletes_only_verified_days_in_batches(applied: dict, before: dict) -> None:
    report, after = applied["report"], applied["pg"]
    assert not set(PRUNED) & set(after)
    for day in (TAMPERED, LATE, MISSING, *(date(2026, 2, d) for d in range(25, 29))):
        assert after[day] == before["pg"][day]
    assert {d.day for d in report.pruned} == set(PRUNED)
    assert report.rows_deleted == sum(before["pg"][d][0] for d in PRUNED)
    assert [r[0] for r in applied["records"]] == PRUNED  # one event per day pruned
    for day, rows, spend, batches, batch_size, lake_rows, left, flavour in applied["records"]:
        assert rows == lake_rows == before["pg"][day][0] and left == 0 and flavour == "llmusage"
        assert spend == pytest.approx(before["pg"][day][1], abs=1e-9)
        assert batch_size == BATCH and batches == -(-rows // BATCH) and batches >= 2  # several transactions
    state = applied["state"]
    assert {d for d in PRUNED if state.pruned(d)} == set(PRUNED)
    assert not any(state.pruned(d) for d in (TAMPERED, LATE))


def test_results_are_the_same_after_pruning(applied: dict, before: dict) -> None:
    for name, frame in before["results"].items():
        assert applied["results"][name].columns == frame.columns, name
        assert _rows(applied["results"][name]) == _rows(frame), name


def test_extract_never_rewrites_a_pruned_partition(reextracted: dict, before: dict) -> None:
    for day in PRUNED:
        assert reextracted["files"][day] == before["files"][day], day
        assert reextracted["state"].pruned(day)


def test_skipped_days_go_once_extracted_again_and_then_nothing_is_left(reextracted: dict) -> None:
    """Re-extracting 2026-02-10..28 rewrote the tampered partition and took in the late log and the day the
    lake lacked, so the next run prunes those three days; the one after finds nothing."""
    assert {d.day for d in reextracted["again"].pruned} == {MISSING, TAMPERED, LATE}
    assert all(d.rows_left == 0 for d in reextracted["again"].pruned)
    assert reextracted["old"] == [(0,)]
    assert reextracted["last"].rows_deleted == 0 and not reextracted["last"].plan.days
    assert reextracted["records"] == [(len(PRUNED) + 3,)]


def test_an_interrupted_day_is_resumed_and_a_late_row_kept(resumed: dict) -> None:
    """A day marked pruned whose rows are still in PostgreSQL (a run stopped half-way) is finished on the
    next run; a row its partition does not hold stays."""
    [result] = resumed["report"].pruned
    assert [d.verdict for d in resumed["report"].plan.deleting()] == [Verdict.RESUME]
    assert (result.day, result.rows_deleted, result.rows_left) == (resumed["day"], resumed["rows"], 1)
    assert resumed["left"] == [("late-after-prune",)]


def test_the_cli_applies_and_names_what_it_kept(cli_applied) -> None:
    done = cli_applied
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(
        f"retention (applied): llmusage database, keep {_keep_until(date(2026, 2, 27))} days: "
    )
    assert lines[1].startswith(
        "  2026-02-25  deleted 0 rows, $0.00 in "
    )  # the resumed day: only its late row
    assert lines[1].endswith(" batches; 1 rows kept: not in the lake partition")
    assert lines[2].startswith("  2026-02-26  deleted ") and " in 7 batches" in lines[2]
    assert lines[3].startswith("total: deleted ") and lines[3].endswith(" on 2 days; 0 days skipped")
