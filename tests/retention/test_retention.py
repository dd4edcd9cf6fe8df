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


@pytest.fixture(scope="module")
def before(lake: Path, database_url: str) -> dict:
    return {"pg": _per_day(database_url), "results": _results(database_url, lake)}


@pytest.fixture(scope="module")
def applied(before: dict, lake: Path, database_url: str):
    files = {day: _digest(partition_path(lake, day)) for day in spend_log_partitions(lake)}
    report = retention(database_url, lake, RetentionOptions(KEEP, apply=True, batch_size=BATCH, as_of=AS_OF))
    return report, files


def test_the_dry_run_deletes_nothing_and_says_why_days_stay(
    before: dict, lake: Path, database_url: str
) -> None:
    report = retention(database_url, lake, RetentionOptions(KEEP, as_of=AS_OF))
    assert not report.applied and not report.pruned
    verdicts = {d.day: d.verdict for d in report.plan.days}
    assert verdicts == {
        MISSING: Verdict.NOT_IN_LAKE,
        TAMPERED: Verdict.DISAGREES,
        LATE: Verdict.DISAGREES,
        **dict.fromkeys(PRUNED, Verdict.PRUNE),
    }
    assert report.plan.before == datetime(2026, 2, 25)
    assert _per_day(database_url) == before["pg"]
    assert not any(r.pruned_at for r in LakeState.load(lake).partitions.values())
    tampered = next(d for d in report.plan.days if d.day == TAMPERED)
    assert tampered.lake_rows == tampered.pg_rows and "PostgreSQL" in tampered.reason


def test_the_cli_dry_run_and_bad_keep_days(before: dict, database_url: str, lake: Path) -> None:
    env = cli_env_for(database_url, lake.parent)
    keep = (datetime.now(UTC).date() - date(2026, 2, 25)).days  # the CLI counts from the database's clock
    done = run_cli("retention", "--keep-days", str(keep), env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(
        f"retention (dry run): llmusage database, keep {keep} days: spend logs before "
    )
    assert f"  {TAMPERED}  skipped (lake disagrees): " in done.stdout
    assert f"  {MISSING}  skipped (not in the lake): 1 rows, no lake partition" in done.stdout
    assert lines[-1] == "dry run: nothing was deleted; run again with --apply to delete"
    for bad in ("0", "-3", "two", "1.5"):
        failed = run_cli("retention", "--keep-days", bad, env=env)
        assert failed.returncode == 2 and failed.stdout == ""
        [line] = failed.stderr.splitlines()
        assert line.startswith("llmusage retention: error: Invalid value for '--keep-days': must be "), line
    missing = run_cli("retention", env=env)
    assert missing.returncode == 2 and "--keep-days" in missing.stderr
    assert _per_day(database_url) == before["pg"]


def test_apply_deletes_only_verified_days_in_batches(
    applied, before: dict, lake: Path, database_url: str
) -> None:
    report, _ = applied
    after = _per_day(database_url)
    assert not set(PRUNED) & set(after)
    for day in (TAMPERED, LATE, MISSING, *(date(2026, 2, d) for d in range(25, 29))):
        assert after[day] == before["pg"][day]
    assert {d.day for d in report.pruned} == set(PRUNED)
    assert report.rows_deleted == sum(before["pg"][d][0] for d in PRUNED)
    records = _pg(
        database_url,
        """SELECT day, rows_deleted, spend_deleted, batches, batch_size, lake_rows, rows_left, flavour
           FROM llmusage.spend_log_prunes ORDER BY day""",
    )
    assert [r[0] for r in records] == PRUNED  # one event per day pruned
    for day, rows, spend, batches, batch_size, lake_rows, left, flavour in records:
        assert rows == lake_rows == before["pg"][day][0] and left == 0 and flavour == "llmusage"
        assert spend == pytest.approx(before["pg"][day][1], abs=1e-9)
        assert batch_size == BATCH and batches == -(-rows // BATCH) and batches >= 2  # several transactions
    state = LakeState.load(lake)
    assert {d for d in PRUNED if state.pruned(d)} == set(PRUNED)
    assert not any(state.pruned(d) for d in (TAMPERED, LATE))


def test_results_are_the_same_after_pruning(applied, before: dict, lake: Path, database_url: str) -> None:
    after = _results(database_url, lake)
    for name, frame in before["results"].items():
        assert after[name].columns == frame.columns, name
        assert _rows(after[name]) == _rows(frame), name


def test_extract_never_rewrites_a_pruned_partition(applied, lake: Path, database_url: str) -> None:
    _, files = applied
    extract(database_url, lake, ExtractOptions())
    extract(database_url, lake, ExtractOptions(days=(date(2026, 2, 10), date(2026, 2, 28))))
    for day in PRUNED:
        assert _digest(partition_path(lake, day)) == files[day], day
        record = LakeState.load(lake).get(day)
        assert record is not None and record.pruned_at is not None


def test_skipped_days_go_once_extracted_again_and_then_nothing_is_left(
    applied, database_url: str, lake: Path
) -> None:
    """The extract test above re-extracted 2026-02-10..28: the tampered partition is rewritten, the late log
    and the day the lake lacked are in the lake now, so the next run prunes those three days; the one after
    finds nothing."""
    again = retention(database_url, lake, RetentionOptions(KEEP, apply=True, batch_size=BATCH, as_of=AS_OF))
    assert {d.day for d in again.pruned} == {MISSING, TAMPERED, LATE}
    assert all(d.rows_left == 0 for d in again.pruned)
    assert _pg(
        database_url, "SELECT count(*) FROM \"LiteLLM_SpendLogs\" WHERE created_at < '2026-02-25'"
    ) == [(0,)]
    last = retention(database_url, lake, RetentionOptions(KEEP, apply=True, batch_size=BATCH, as_of=AS_OF))
    assert last.rows_deleted == 0 and not last.plan.days
    assert _pg(database_url, "SELECT count(*) FROM llmusage.spend_log_prunes") == [(len(PRUNED) + 3,)]


def test_an_interrupted_day_is_resumed_and_a_late_row_kept(applied, database_url: str, lake: Path) -> None:
    """A day marked pruned whose rows are still in PostgreSQL (a run stopped half-way) is finished on the
    next run; a row its partition does not hold stays."""
    day = date(2026, 2, 25)
    state = LakeState.load(lake)
    record = state.get(day)
    assert record is not None
    state.mark_pruned(day, record, datetime.now(UTC))
    n = _per_day(database_url)[day][0]
    with psycopg.connect(database_url) as conn:
        conn.execute(LATE_LOG, {"id": "late-after-prune", "spend": 0.25, "at": datetime(2026, 2, 25, 8)})
    report = retention(
        database_url, lake, RetentionOptions(KEEP - 1, apply=True, batch_size=BATCH, as_of=AS_OF)
    )
    [result] = report.pruned
    assert [d.verdict for d in report.plan.deleting()] == [Verdict.RESUME]
    assert (result.day, result.rows_deleted, result.rows_left) == (day, n, 1)
    assert _pg(
        database_url, 'SELECT request_id FROM "LiteLLM_SpendLogs" WHERE created_at::date = %s', (day,)
    ) == [("late-after-prune",)]


def test_the_cli_applies_and_names_what_it_kept(applied, database_url: str, lake: Path) -> None:
    env = cli_env_for(database_url, lake.parent)
    keep = (datetime.now(UTC).date() - date(2026, 2, 27)).days
    done = run_cli("retention", "--keep-days", str(keep), "--apply", "--batch-size", "100", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"retention (applied): llmusage database, keep {keep} days: ")
    assert lines[1].startswith(
        "  2026-02-25  deleted 0 rows, $0.00 in "
    )  # the resumed day: only its late row
    assert lines[1].endswith(" batches; 1 rows kept: not in the lake partition")
    assert lines[2].startswith("  2026-02-26  deleted ") and " in 7 batches" in lines[2]
    assert lines[3].startswith("total: deleted ") and lines[3].endswith(" on 2 days; 0 days skipped")
