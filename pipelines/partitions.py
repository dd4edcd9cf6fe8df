"""Partitions: UTC days for spend logs and rollups, UTC months for chargeback, from the configured start
(LLMUSAGE_PARTITIONS_START, `pipelines.location`): the daily ones on that day, the monthly ones on the first of
its month."""

import dagster as dg

from pipelines.location import location_settings

START = location_settings().partitions_start
START_DATE = START.isoformat()

# end_offset=1: today's partition exists while the day is under way (the schedule keeps it current).
daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC", end_offset=1)
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=START.replace(day=1).isoformat(), timezone="UTC", end_offset=1
)
