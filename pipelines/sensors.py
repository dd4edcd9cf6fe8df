"""Sensors: reconcile after every successful ingest, and whenever new spend arrives or an entity crosses
its warning threshold (a cursor remembers what was last seen). Running by default (LLMUSAGE_AUTOMATION=off:
stopped)."""

import json

import dagster as dg

from pipelines.jobs import budgets_job, ingest_job
from pipelines.location import sensor_status
from pipelines.resources import PostgresResource


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_job],
    request_job=budgets_job,
    description="Reconcile budgets after each successful ingest run.",
    default_status=sensor_status(),
)
def reconcile_after_ingest_sensor(context: dg.RunStatusSensorContext):
    return dg.RunRequest(run_key=f"after-{context.dagster_run.run_id}")


@dg.sensor(
    job=budgets_job,
    minimum_interval_seconds=60,
    description="New spend or a threshold crossed: reconcile.",
    default_status=sensor_status(),
)
def spend_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    from llmusage.reconcile.spend_state import spend_state

    state = spend_state(postgres.url())
    seen = json.loads(context.cursor) if context.cursor else {}
    if seen == state:
        return dg.SkipReason(
            f"no new spend since {state['newest_log']}, {state['at_threshold']} entities at threshold"
        )
    context.update_cursor(json.dumps(state))
    reason = "threshold crossed" if seen.get("at_threshold") != state["at_threshold"] else "new spend"
    return dg.RunRequest(run_key=json.dumps(state, sort_keys=True), tags={"llmusage/reason": reason})
