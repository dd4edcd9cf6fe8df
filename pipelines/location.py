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
"""

from __future__ import annotations

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
