"""The one `Definitions` object that `workspace.yaml` loads: assets, checks, jobs, schedules, sensors, resources,
and the executor every job runs with (LLMUSAGE_DAGSTER_EXECUTOR, `location.py`)."""

import dagster as dg

from pipelines.assets.budgets import budget_alerts, budget_flags, budget_status
from pipelines.assets.chargeback import chargeback_statement
from pipelines.assets.ingest import dimension_snapshots, spend_logs
from pipelines.assets.retention import spend_logs_retention
from pipelines.assets.warehouse import spend_daily, warehouse
from pipelines.checks import (
    daily_tables_agree_with_logs,
    lake_is_fresh,
    no_budget_exceeded,
    spend_drift_within_tolerance,
)
from pipelines.jobs import budgets_job, chargeback_job, ingest_job, retention_job
from pipelines.location import executor
from pipelines.resources import LakeResource, PostgresResource
from pipelines.schedules import chargeback_schedule, ingest_schedule, retention_schedules
from pipelines.sensors import reconcile_after_ingest_sensor, spend_sensor

defs = dg.Definitions(
    assets=[
        dimension_snapshots,
        spend_logs,
        spend_daily,
        warehouse,
        budget_status,
        budget_flags,
        budget_alerts,
        chargeback_statement,
        spend_logs_retention,
    ],
    asset_checks=[
        no_budget_exceeded,
        spend_drift_within_tolerance,
        lake_is_fresh,
        daily_tables_agree_with_logs,
    ],
    jobs=[ingest_job, budgets_job, chargeback_job, retention_job],
    schedules=[ingest_schedule, chargeback_schedule, *retention_schedules()],
    sensors=[reconcile_after_ingest_sensor, spend_sensor],
    resources={"postgres": PostgresResource(), "lake": LakeResource()},
    executor=executor(),
)
