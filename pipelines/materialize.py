"""Materializing the graph in process through the named jobs (the tests), so that each run is an
`ingest_job`, `budgets_job` or `chargeback_job` run, listed under its job (runs of `dg.materialize` are
`__ephemeral_asset_job__` runs). In-process runs have no code-location origin, so the UI's timeline does not
place them: the demo launches its runs from the workspace instead (`launch.py`).

`materialize_range` is what the schedule and the sensor do, in order: `ingest_job` over every daily partition
of a range in one run (the daily assets have single-run backfill policies), then, if it succeeded,
`budgets_job` (warehouse, reconciliation, flags, checks). `materialize_month` is `chargeback_job` for a month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import dagster as dg

from pipelines.definitions import defs

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@dataclass
class Runs:
    """The runs of one `materialize_range`, read as one result (events of every run, in run order)."""

    results: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    complete: bool = True  # False when a run failed and the ones after it were not started

    @property
    def success(self) -> bool:
        return self.complete and all(r.success for r in self.results)

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.results]

    def get_asset_materialization_events(self) -> list:
        return [e for r in self.results for e in r.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list[dg.AssetCheckEvaluation]:
        return [e for r in self.results for e in r.get_asset_check_evaluations()]


def job(name: str, resources: Mapping[str, object] | None = None) -> dg.JobDefinition:
    """A named job of the code location, with other resources when given (tests, another database)."""
    if resources is None:
        return defs.resolve_job_def(name)
    bound = dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs, resources=dict(resources)
    )
    return bound.resolve_job_def(name)


def _quiet(log_level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def materialize_range(
    first: date,
    last: date,
    instance: dg.DagsterInstance,
    resources: Mapping[str, object] | None = None,
    log_level: str = "WARNING",
) -> Runs:
    """`ingest_job` over first..last (one run), then `budgets_job` unless the ingest failed."""
    runs = Runs()
    ingest = job("ingest_job", resources).execute_in_process(
        instance=instance,
        tags={RANGE_START: first.isoformat(), RANGE_END: last.isoformat()},
        run_config=_quiet(log_level),
        raise_on_error=False,
    )
    runs.results.append(ingest)
    if not ingest.success:  # as the sensor: budgets only after a successful ingest
        runs.complete = False
        return runs
    budgets = job("budgets_job", resources).execute_in_process(
        instance=instance, run_config=_quiet(log_level), raise_on_error=False
    )
    runs.results.append(budgets)
    return runs


def materialize_month(
    month: date,
    instance: dg.DagsterInstance,
    resources: Mapping[str, object] | None = None,
    log_level: str = "WARNING",
) -> dg.ExecuteInProcessResult:
    """`chargeback_job`: the statement of the month containing `month`."""
    return job("chargeback_job", resources).execute_in_process(
        instance=instance,
        partition_key=month.replace(day=1).isoformat(),
        run_config=_quiet(log_level),
        raise_on_error=False,
    )
