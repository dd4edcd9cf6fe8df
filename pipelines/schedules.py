"""Schedules: ingest every 15 minutes (today, and yesterday while it is inside the lag window); chargeback
on the first of each month for the month before; retention daily, only when LLMUSAGE_RETENTION_DAYS is set
(`retention_schedules`). Running by default (LLMUSAGE_AUTOMATION=off: stopped)."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from llmusage.lake.lag import LAG_WINDOW
from pipelines.jobs import chargeback_job, ingest_job, retention_job
from pipelines.location import retention_days, schedule_status

INGEST_INTERVAL = timedelta(minutes=15)
"""How often the ingest schedule runs (a divisor of an hour: it becomes the cron's minute step)."""
INGEST_CRON = f"*/{INGEST_INTERVAL // timedelta(minutes=1)} * * * *"


def ingest_partition_keys(now: datetime) -> list[str]:
    """Today's partition, and yesterday's while rows may still commit into it."""
    now = now.astimezone(UTC)
    keys = [now.date().isoformat()]
    if now - datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC) < LAG_WINDOW:
        keys.insert(0, (now.date() - timedelta(days=1)).isoformat())
    return keys


@dg.schedule(
    job=ingest_job, cron_schedule=INGEST_CRON, execution_timezone="UTC", default_status=schedule_status()
)
def ingest_schedule(context: dg.ScheduleEvaluationContext):
    """Keep the lake current: today's partition every 15 minutes, yesterday's too during the lag window."""
    moment = context.scheduled_execution_time or datetime.now(UTC)
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M")
    return [
        dg.RunRequest(partition_key=key, run_key=f"{key}@{stamp}") for key in ingest_partition_keys(moment)
    ]


def previous_month_key(now: datetime) -> str:
    """The monthly partition key of the month before `now` (UTC)."""
    now = now.astimezone(UTC)
    last_day = now.date().replace(day=1) - timedelta(days=1)
    return last_day.replace(day=1).isoformat()


@dg.schedule(
    job=chargeback_job, cron_schedule="0 3 1 * *", execution_timezone="UTC", default_status=schedule_status()
)
def chargeback_schedule(context: dg.ScheduleEvaluationContext):
    """The statement of the month before, at 03:00 UTC on the 1st (after the 2-hour lag window closed it)."""
    moment = context.scheduled_execution_time or datetime.now(UTC)
    key = previous_month_key(moment)
    return dg.RunRequest(partition_key=key, run_key=f"chargeback-{key}")


RETENTION_CRON = "30 4 * * *"
"""Retention runs daily at 04:30 UTC: after the lag window closed yesterday, after the monthly chargeback."""


@dg.schedule(
    job=retention_job,
    cron_schedule=RETENTION_CRON,
    execution_timezone="UTC",
    default_status=schedule_status(),
)
def retention_schedule(context: dg.ScheduleEvaluationContext):
    """Prune spend logs older than LLMUSAGE_RETENTION_DAYS from PostgreSQL (days the lake holds exactly)."""
    moment = context.scheduled_execution_time or datetime.now(UTC)
    return dg.RunRequest(run_key=f"retention-{moment.astimezone(UTC):%Y%m%d}")


def retention_schedules() -> list[dg.ScheduleDefinition]:
    """The retention schedule when LLMUSAGE_RETENTION_DAYS is set at load, else none (retention is off)."""
    return [retention_schedule] if retention_days() is not None else []
