"""A Celery worker for runs that use the Celery executor (`make worker`, `python -m pipelines.worker`).

It runs what `dagster-celery worker start -A dagster_celery.app` runs (dagster-celery 0.29's CLI): `celery -A
dagster_celery.app worker --prefetch-multiplier=1 -Q QUEUE` with a `dagster_celery_config` module on the
Python path that holds the broker and the result backend. It replaces this process (exec) rather than
spawning a child, so stopping its process stops the worker (the CLI's `check_call` leaves an orphan).

The broker, backend and queue are the ones the executor uses (`pipelines.location.CeleryBroker`:
LLMUSAGE_CELERY_BROKER_URL, LLMUSAGE_CELERY_BACKEND_URL, LLMUSAGE_CELERY_QUEUE), and the worker sets
LLMUSAGE_DAGSTER_EXECUTOR=celery so the job it reconstructs accepts the run's config. Each task opens the
run's instance from the reference the task carries, so the worker needs no DAGSTER_HOME, but it must
reach that instance's storage (PostgreSQL: `pipelines/instance.py`), the operational database
(LLMUSAGE_DATABASE_URL) and the lake (LLMUSAGE_HOME: on one machine, or shared storage) exactly as the
code location does. `LLMUSAGE_CELERY_CONCURRENCY` (default 2) is the number of steps one worker runs at once.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from llmusage.config import Settings
from pipelines.location import CeleryBroker

ROOT = Path(__file__).resolve().parent.parent


def config_module(directory: Path, broker: CeleryBroker) -> Path:
    """Write `dagster_celery_config.py` (what dagster_celery.app imports when present) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        '"""Written by pipelines.worker: the Celery settings the llmusage executor uses."""',
        f"broker_url = {broker.broker_url!r}",
        f"result_backend = {broker.backend_url!r}",
        f"task_default_queue = {broker.queue!r}",
        "worker_prefetch_multiplier = 1",
        "broker_connection_retry_on_startup = True",
    ]
    (directory / "dagster_celery_config.py").write_text("\n".join(lines) + "\n")
    return directory


def command_and_env(environ: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The worker's command line and environment."""
    env = dict(os.environ if environ is None else environ)
    broker = CeleryBroker.from_env(env)
    config_dir = config_module(Settings.from_env(env).home / "dagster" / "celery", broker)
    paths = [str(config_dir), str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["LLMUSAGE_DAGSTER_EXECUTOR"] = "celery"
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    command = [
        celery,
        "-A",
        "dagster_celery.app",
        "worker",
        "--prefetch-multiplier=1",
        "--loglevel",
        env.get("LLMUSAGE_CELERY_LOGLEVEL") or "INFO",
        "-Q",
        broker.queue,
        "--concurrency",
        env.get("LLMUSAGE_CELERY_CONCURRENCY") or "2",
        "-n",
        f"llmusage-{broker.queue}-{os.getpid()}@%h",
    ]
    return command, env


def main() -> None:
    command, env = command_and_env()
    os.chdir(ROOT)  # the code location's working directory (workspace.yaml)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
