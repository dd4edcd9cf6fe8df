"""Dagster beyond one process: the instance on PostgreSQL (a fresh database on the test server), runs queued
with tag concurrency limits, and `ingest_job` then `budgets_job` executed step by step by a real Celery worker
(Redis on 127.0.0.1:6379, a queue of this test's own), giving the same lake and the same reconciliation
statuses as the in-process run on the same seeded data."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
import warnings
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest
import yaml
from psycopg import sql

from llmusage.devtools.seed import SeedOptions, seed
from llmusage.pg.connect import with_database

warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)")

from pipelines.instance import (  # noqa: E402
    DAGSTER_DATABASE,
    dagster_database_url,
    instance_config,
    instance_from_env,
    storage_name,
    write_instance,
)
from pipelines.jobs import EXTRACT_TAG, RECONCILE_TAG  # noqa: E402
from pipelines.launch import launch_range, submit, wait  # noqa: E402
from pipelines.location import CeleryBroker, executor_name  # noqa: E402
from pipelines.materialize import RANGE_END, RANGE_START, materialize_range  # noqa: E402
from pipelines.resources import LakeResource, PostgresResource  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 3, 1)
FIRST, LAST = date(2026, 2, 26), date(2026, 2, 28)
REDIS = ("127.0.0.1", 6379)
REDIS_DB = 13  # a database of its own on the machine's Redis; the queue name is unique besides


def _redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def seeded(database_url: str):
    with psycopg.connect(database_url) as conn:
        return seed(conn, SeedOptions(logs=3_000, days=3, seed=5, end=END, anomalies=True, reset=True))


@pytest.fixture
def dagster_database(server_url: str, request: pytest.FixtureRequest) -> str:
    """A fresh database for this test's Dagster instance (never the operational one)."""
    name = f"llmusage_dagster_t_{request.node.name[-20:].lower()}_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _environment(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    """This process's environment for the launched runs (and what they spawn): the worktree's code first."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    monkeypatch.setenv("LLMUSAGE_AUTOMATION", "off")  # no schedule or sensor launches runs of its own
    for key, value in settings.items():
        monkeypatch.setenv(key, value)


def _start(command: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen) -> None:
    """Stop a process this test started (its own session: the process and its children)."""
    os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):  # what outlived it (the daemon's code server)
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _forget(broker: str, queue: str, worker_log: str) -> None:
    """Remove what this test left in Redis: its queue, its bindings and the results of its tasks."""
    import redis

    client = redis.Redis.from_url(broker)
    tasks = set(re.findall(r"Task execute_plan\[([0-9a-f-]+)\]", worker_log))
    keys = [f"celery-task-meta-{task}" for task in tasks]
    keys += [queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    client.delete(*keys)
    client.close()


def _lake(home: Path) -> dict[str, tuple[int, float]]:
    """Rows and spend per day partition of the lake's spend logs."""
    files = str(home / "lake" / "spend_logs" / "**" / "*.parquet")
    rows = duckdb.sql(
        f"SELECT strftime(event_time, '%Y-%m-%d') AS day, count(*), round(sum(spend), 9) "
        f"FROM read_parquet('{files}') GROUP BY day ORDER BY day"
    ).fetchall()
    return {day: (n, spend) for day, n, spend in rows}


def _statuses(home: Path) -> set[tuple[str, str, str]]:
    from llmusage.reconcile.store import load

    entities = load(home / "reconcile").entities
    return set(entities.select("entity_type", "entity_id", "status").iter_rows())


def test_instance_config_postgres_and_queued(dagster_database: str, tmp_path: Path) -> None:
    assert (
        storage_name({}) == "sqlite" and storage_name({"LLMUSAGE_DAGSTER_STORAGE": "postgres"}) == "postgres"
    )
    with pytest.raises(ValueError):
        storage_name({"LLMUSAGE_DAGSTER_STORAGE": "mysql"})
    assert executor_name({}) == "multiprocess"
    assert executor_name({"LLMUSAGE_DAGSTER_EXECUTOR": "celery"}) == "celery"
    write_instance(tmp_path, instance_config("postgres", dagster_database, "queued", 3))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        from dagster._core.run_coordinator import QueuedRunCoordinator
        from dagster_postgres import PostgresRunStorage

        assert isinstance(instance.run_storage, PostgresRunStorage)
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        queue = coordinator.get_run_queue_config()
        assert queue.max_concurrent_runs == 3
        limits = {limit["key"]: limit["limit"] for limit in queue.tag_concurrency_limits}
        assert limits == {EXTRACT_TAG: 1, RECONCILE_TAG: 1}
    # What `make ui` writes for LLMUSAGE_DAGSTER_STORAGE=postgres: the given database, with psycopg2.
    env = {"LLMUSAGE_DAGSTER_STORAGE": "postgres", "LLMUSAGE_DAGSTER_DATABASE_URL": dagster_database}
    written = yaml.safe_load(instance_from_env(tmp_path / "ui", env).read_text())
    url = written["storage"]["postgres"]["postgres_url"]
    assert url.startswith("postgresql+psycopg2://") and url.endswith(dagster_database.split("://", 1)[1])


def test_default_dagster_database_is_its_own(database_url: str, server_url: str) -> None:
    """Without LLMUSAGE_DAGSTER_DATABASE_URL: `llmusage_dagster` on the operational server, created once."""
    url = dagster_database_url({"LLMUSAGE_DATABASE_URL": database_url})
    try:
        assert url == with_database(database_url, DAGSTER_DATABASE) != database_url
        assert dagster_database_url({"LLMUSAGE_DATABASE_URL": database_url}) == url  # exists: reused
        psycopg.connect(url).close()
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DAGSTER_DATABASE))
            )


def test_jobs_carry_the_limited_tags() -> None:
    from pipelines.definitions import defs

    assert defs.resolve_job_def("ingest_job").tags[EXTRACT_TAG] == "ingest"
    assert defs.resolve_job_def("budgets_job").tags[RECONCILE_TAG] == "budgets"
    assert defs.resolve_job_def("retention_job").tags[EXTRACT_TAG] == "retention"


@pytest.mark.slow
def test_celery_on_postgres_matches_in_process(
    seeded, database_url: str, dagster_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _redis_up():
        pytest.skip("no Redis at 127.0.0.1:6379")
    queue = f"llmusage-test-{uuid.uuid4().hex[:10]}"
    broker = f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}"
    celery_home, local_home = tmp_path / "celery", tmp_path / "local"
    _environment(
        monkeypatch,
        LLMUSAGE_DATABASE_URL=database_url,
        LLMUSAGE_HOME=str(celery_home),
        LLMUSAGE_DAGSTER_EXECUTOR="celery",
        LLMUSAGE_CELERY_BROKER_URL=broker,
        LLMUSAGE_CELERY_QUEUE=queue,
        LLMUSAGE_CELERY_CONCURRENCY="1",
    )
    assert CeleryBroker.from_env().executor_config()["config_source"] == {"task_default_queue": queue}
    # The instance on PostgreSQL; runs start at once (the queue and its daemon: the next test).
    dagster_home = celery_home / "dagster"
    write_instance(dagster_home, instance_config("postgres", dagster_database, "default"))
    worker = _start([sys.executable, "-m", "pipelines.worker"], tmp_path / "worker.log")
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            runs = launch_range(FIRST, LAST, instance)
            worker_log = (tmp_path / "worker.log").read_text()
            assert runs.success, worker_log[-4000:]
            # Every step went to the Celery queue, and the worker ran (and finished) each task.
            submitted = 0
            for run in runs.runs:
                records = instance.get_records_for_run(
                    run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=10_000
                ).records
                texts = [r.event_log_entry.dagster_event.message or "" for r in records]
                submitted += sum(f'to queue "{queue}"' in t for t in texts)
            assert submitted >= 4  # ingest: logs, dimensions, rollup; budgets: warehouse, status, flags...
            assert worker_log.count("Task execute_plan[") >= 2 * submitted  # received, then succeeded
            assert worker_log.count("] succeeded in ") == submitted
            checks = {c.check_name: c for c in runs.get_asset_check_evaluations()}
            assert checks["spend_logs_quality"].passed
    finally:
        _stop(worker)
        _forget(broker, queue, (tmp_path / "worker.log").read_text())

    resources = {
        "postgres": PostgresResource(database_url=database_url),
        "lake": LakeResource(home=str(local_home)),
    }
    local = materialize_range(FIRST, LAST, dg.DagsterInstance.ephemeral(), resources)
    assert local.success
    lake = _lake(celery_home)
    assert set(lake) == {d.isoformat() for d in (FIRST, date(2026, 2, 27), LAST)}
    assert lake == _lake(local_home)
    with psycopg.connect(database_url) as conn:
        rows, spend = conn.execute(
            """SELECT count(*), round(sum(spend)::numeric, 9) FROM "LiteLLM_SpendLogs"
               WHERE created_at >= %s AND created_at < %s""",
            (FIRST, END),
        ).fetchone()
    assert sum(n for n, _ in lake.values()) == rows
    assert sum(s for _, s in lake.values()) == pytest.approx(float(spend), abs=1e-6)
    statuses = _statuses(celery_home)
    assert statuses == _statuses(local_home)
    assert any(status == "exceeded" for *_, status in statuses)  # the seeded overrun is seen by both
    # Dagster's tables are in their own database; none in the operational one.
    with psycopg.connect(database_url) as conn:
        assert not conn.execute(
            "SELECT 1 FROM pg_tables WHERE tablename IN ('runs', 'event_logs')"
        ).fetchone()
    with psycopg.connect(dagster_database) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2


@pytest.mark.slow
def test_queued_runs_take_one_extract_at_a_time(
    seeded, database_url: str, dagster_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ingest runs submitted together to the queued instance: nothing starts without the daemon; with
    it, the second starts only after the first has finished (llmusage/extract, limit 1), although the
    instance would run four at once."""
    home = tmp_path / "queued"
    _environment(
        monkeypatch,
        LLMUSAGE_DATABASE_URL=database_url,
        LLMUSAGE_HOME=str(home),
        LLMUSAGE_DAGSTER_EXECUTOR="in_process",
    )
    dagster_home = home / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))  # the daemon's instance
    write_instance(dagster_home, instance_config("postgres", dagster_database, "queued", 4))
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        markers = [
            submit(instance, "ingest_job", {RANGE_START: day.isoformat(), RANGE_END: day.isoformat()})
            for day in (FIRST, LAST)
        ]
        queued = instance.get_runs(filters=dg.RunsFilter(job_name="ingest_job"))
        assert len(queued) == 2 and {r.status for r in queued} == {dg.DagsterRunStatus.QUEUED}
        daemon = _start(
            [
                str(Path(sys.executable).with_name("dagster-daemon")),
                "run",
                "-w",
                str(ROOT / "workspace.yaml"),
            ],
            tmp_path / "daemon.log",
        )
        try:
            runs = [wait(instance, marker, timeout=300) for marker in markers]
        finally:
            _stop(daemon)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), (
            tmp_path / "daemon.log"
        ).read_text()[-3000:]
        records = instance.get_run_records(filters=dg.RunsFilter(run_ids=[r.run_id for r in runs]))
        first, second = sorted(records, key=lambda r: r.start_time)
        assert second.start_time >= first.end_time  # never two extracts at once
    assert set(_lake(home)) == {FIRST.isoformat(), LAST.isoformat()}
