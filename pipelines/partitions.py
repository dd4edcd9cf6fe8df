"""Partitions: UTC days for spend logs and rollups, UTC months for chargeback, from the same start."""

import dagster as dg

START_DATE = "2025-01-01"

# end_offset=1: today's partition exists while the day is under way (the schedule keeps it current).
daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC", end_offset=1)
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=START_DATE, timezone="UTC", end_offset=1)
