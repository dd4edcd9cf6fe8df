"""The Dagster instance (`$DAGSTER_HOME/dagster.yaml`): where runs, events and schedules are stored, and how
launched runs are queued. `make ui` and `make worker` write it with `python -m pipelines.instance DIR`.

`LLMUSAGE_DAGSTER_STORAGE` chooses the storage:

- `sqlite` (default): SQLite files under `$LLMUSAGE_HOME/dagster` — one machine, one process writing at a time.
- `postgres`: `dagster-postgres` (runs, event log, schedules in one database). The database is
  `LLMUSAGE_DAGSTER_DATABASE_URL` when set, else a database of its own, `llmusage_dagster`, on the
  operational server (created when missing). Never the operational database: Dagster's tables (and its
  Alembic migrations) must not meet LiteLLM's, whose Prisma `db push` would drop what it does not model.

Runs are queued (`QueuedRunCoordinator`, dequeued by the daemon of `dagster dev` / `dagster-daemon run`) with
tag concurrency limits: one run at a time with `llmusage/extract` (ingest, retention), one with
`llmusage/reconcile` (budgets), at most `LLMUSAGE_DAGSTER_MAX_RUNS` (default 4) runs in all. `coordinator=
"default"` starts launched runs at once instead (the demo and `launch.py`, which have no daemon).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from llmusage.config import Settings
from llmusage.pg.connect import resolve_url, validate_url, with_database
from pipelines.jobs import EXTRACT_TAG, RECONCILE_TAG

STORAGES = ("sqlite", "postgres")
DAGSTER_DATABASE = "llmusage_dagster"


def storage_name(environ: dict[str, str] | None = None) -> str:
    """LLMUSAGE_DAGSTER_STORAGE, checked."""
    env = os.environ if environ is None else environ
    name = (env.get("LLMUSAGE_DAGSTER_STORAGE") or "sqlite").strip().lower()
    if name not in STORAGES:
        raise ValueError(f"LLMUSAGE_DAGSTER_STORAGE={name!r}: expected sqlite or postgres")
    return name


def dagster_database_url(environ: dict[str, str] | None = None) -> str:
    """The database of the Postgres instance: LLMUSAGE_DAGSTER_DATABASE_URL, else `llmusage_dagster` on the
    operational server (created if missing; the server's maintenance database is used to create it)."""
    env = os.environ if environ is None else environ
    explicit = env.get("LLMUSAGE_DAGSTER_DATABASE_URL")
    if explicit:
        validate_url(explicit)
        return explicit
    operational = resolve_url(Settings.from_env(dict(env)))
    url = with_database(operational, DAGSTER_DATABASE)
    ensure_database(url)
    return url


def ensure_database(url: str) -> None:
    """Create the database `url` names unless it exists (connecting to `postgres` on the same server)."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def sqlalchemy_url(url: str) -> str:
    """`url` with psycopg2 named as the driver. dagster-postgres hands the URL to SQLAlchemy, whose 2.1
    default driver for `postgresql://` is psycopg 3; dagster-postgres' `NOTIFY run_events, %(id)s` fails
    there (psycopg 3 binds parameters server side, and NOTIFY takes none), so it needs psycopg2, which
    dagster-postgres itself depends on."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    return url


def instance_config(
    storage: str = "sqlite",
    database_url: str | None = None,
    coordinator: str = "queued",
    max_concurrent_runs: int = 4,
) -> dict:
    """The dagster.yaml as a dict. `storage="postgres"` needs `database_url` (a libpq URL; a Unix-socket
    URL `postgresql://user@/db?host=/dir&port=N` works too)."""
    config: dict = {"telemetry": {"enabled": False}}
    if storage == "postgres":
        if not database_url:
            raise ValueError("postgres storage needs a database URL")
        config["storage"] = {"postgres": {"postgres_url": sqlalchemy_url(database_url)}}
    elif storage != "sqlite":
        raise ValueError(f"unknown storage {storage!r}")
    if coordinator == "queued":
        config["run_coordinator"] = {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": max_concurrent_runs,
                "tag_concurrency_limits": [
                    {"key": EXTRACT_TAG, "limit": 1},
                    {"key": RECONCILE_TAG, "limit": 1},
                ],
                "dequeue_interval_seconds": 2,
            },
        }
    elif coordinator == "default":
        config["run_coordinator"] = {
            "module": "dagster._core.run_coordinator",
            "class": "DefaultRunCoordinator",
        }
    else:
        raise ValueError(f"unknown run coordinator {coordinator!r}")
    return config


def write_instance(directory: Path, config: dict) -> Path:
    """Write `directory/dagster.yaml` (beside, then renamed: a reader never sees half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "dagster.yaml"
    staging = directory / f".dagster.yaml.{os.getpid()}"
    staging.write_text(yaml.safe_dump(config, sort_keys=False))
    staging.replace(target)
    return target


def instance_from_env(directory: Path, environ: dict[str, str] | None = None) -> Path:
    """The dagster.yaml that LLMUSAGE_DAGSTER_STORAGE (and LLMUSAGE_DAGSTER_MAX_RUNS) asks for, in `directory`."""
    env = os.environ if environ is None else environ
    storage = storage_name(env)
    url = dagster_database_url(env) if storage == "postgres" else None
    runs = int(env.get("LLMUSAGE_DAGSTER_MAX_RUNS") or 4)
    return write_instance(directory, instance_config(storage, url, "queued", runs))


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else Settings.from_env().home / "dagster"
    try:
        path = instance_from_env(directory)
    except Exception as exc:  # one clear line for a bad setting or an unreachable server
        print(f"dagster instance: {exc}", file=sys.stderr)
        return 1
    print(f"{path} ({storage_name()} storage, queued runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
