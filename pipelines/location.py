"""What the code location's definitions are built from: `llmusage.config.Settings`, read once when Dagster
loads the location (a partition start and a schedule's default status are fixed in the definitions, so
this is the one read that happens at load; runs read their resources' settings when they run).

- `LLMUSAGE_AUTOMATION` (default `on`): schedules and sensors start RUNNING; `off` starts them STOPPED (tests,
  a second deployment that must not write flags). Either way they can be switched in the UI; the UI's
  choice, once made, is kept by the instance.
- `LLMUSAGE_PARTITIONS_START` (default 2025-01-01): the first daily partition; the demo sets it to the first
  seeded day.
- `LLMUSAGE_RETENTION_DAYS` (default unset): when set, the location has `retention_schedule`, which prunes
  spend logs older than that many days from PostgreSQL (verified days only, `llmusage.retention`); unset,
  there is no such schedule and the `spend_logs_retention` asset does nothing.
- `LLMUSAGE_DAGSTER_EXECUTOR` (default `multiprocess`, Dagster's own default): how a launched run executes
  its steps — `in_process` (one process), `multiprocess` (a child process per step, on this machine) or
  `celery` (each step a Celery task, run by `make worker` on any machine that reaches the broker; needs a
  persistent instance, `pipelines/instance.py`). The Celery broker and result backend are
  `LLMUSAGE_CELERY_BROKER_URL` (default `redis://127.0.0.1:6379/0`) and `LLMUSAGE_CELERY_BACKEND_URL`
  (default: the broker), the queue `LLMUSAGE_CELERY_QUEUE` (default `dagster`). The worker reads the same
  variables (`pipelines/worker.py`), so the two always agree. Runs executed in process by the tests
  (`materialize.py`) ignore the executor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import dagster as dg

from llmusage.config import Settings


@cache
def location_settings() -> Settings:
    """The environment as `llmusage.config` reads it, once per process."""
    return Settings.from_env()


def schedule_status() -> dg.DefaultScheduleStatus:
    running = location_settings().automation
    return dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED


def sensor_status() -> dg.DefaultSensorStatus:
    running = location_settings().automation
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


def retention_days() -> int | None:
    """Days of spend logs PostgreSQL keeps (LLMUSAGE_RETENTION_DAYS); None: retention is off."""
    return location_settings().retention_days


EXECUTORS = ("in_process", "multiprocess", "celery")


@dataclass(frozen=True)
class CeleryBroker:
    """Where Celery tasks go and their results come back: the executor and `make worker` read the same."""

    broker_url: str
    backend_url: str
    queue: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> CeleryBroker:
        env = os.environ if environ is None else environ
        broker = env.get("LLMUSAGE_CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0"
        return cls(
            broker_url=broker,
            backend_url=env.get("LLMUSAGE_CELERY_BACKEND_URL") or broker,
            queue=env.get("LLMUSAGE_CELERY_QUEUE") or "dagster",
        )

    def executor_config(self) -> dict:
        """The `celery_executor` config (also the `execution.config` block the worker CLI reads)."""
        return {
            "broker": self.broker_url,
            "backend": self.backend_url,
            "config_source": {"task_default_queue": self.queue},
        }


def executor_name(environ: dict[str, str] | None = None) -> str:
    """LLMUSAGE_DAGSTER_EXECUTOR, checked: one clear line for a value that is not an executor."""
    env = os.environ if environ is None else environ
    name = (env.get("LLMUSAGE_DAGSTER_EXECUTOR") or "multiprocess").strip().lower()
    if name not in EXECUTORS:
        raise ValueError(f"LLMUSAGE_DAGSTER_EXECUTOR={name!r}: expected one of {', '.join(EXECUTORS)}")
    return name


def executor() -> dg.ExecutorDefinition:
    """The executor of every job in the location, as LLMUSAGE_DAGSTER_EXECUTOR chooses (read at load)."""
    name = executor_name()
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multi_or_in_process_executor
    from dagster_celery import celery_executor  # imported only where chosen: Celery and kombu are heavy

    return celery_executor.configured(CeleryBroker.from_env().executor_config(), name="celery")
