"""Schedules: ingest every 15 minutes (today, and yesterday while it is inside the lag window)."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.jobs import ingest_job

LAG_WINDOW = timedelta(hours=2)


def ingest_partition_keys(now: datetime) -> list[str]:
    """Today's partition, and yesterday's while rows may still commit into it."""
    now = now.astimezone(UTC)
    keys = [now.date().isoformat()]
    if now - datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC) < LAG_WINDOW:
        keys.insert(0, (now.date() - timedelta(days=1)).isoformat())
    return keys


@dg.schedule(job=ingest_job, cron_schedule="*/15 * * * *", execution_timezone="UTC")
def ingest_schedule(context: dg.ScheduleEvaluationContext):
    """Keep the lake current: today's partition every 15 minutes, yesterday's too during the lag window."""
    moment = context.scheduled_execution_time or datetime.now(UTC)
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M")
    return [
        dg.RunRequest(partition_key=key, run_key=f"{key}@{stamp}") for key in ingest_partition_keys(moment)
    ]
