"""Materializing the whole graph in process (the demo, tests): every daily partition of a range in one
run (the daily assets have single-run backfill policies), the unpartitioned assets after them; the
monthly chargeback in a run of its own (a run has one partitioning)."""

from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.assets.chargeback import chargeback_statement
from pipelines.definitions import defs


def instance_at(directory: Path) -> dg.DagsterInstance:
    """A persistent Dagster instance in `directory` (what `dagster dev` opens with DAGSTER_HOME set to it)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(directory))


def materialize_range(
    first: date,
    last: date,
    instance: dg.DagsterInstance,
    resources: dict[str, object] | None = None,
    log_level: str = "WARNING",
) -> dg.ExecuteInProcessResult:
    """One run: spend logs and rollups of first..last, dimension snapshots, warehouse, budgets, flags, checks."""
    selected = [*(a for a in defs.assets or [] if a is not chargeback_statement), *(defs.asset_checks or [])]
    return dg.materialize(
        selected,
        instance=instance,
        resources=resources or dict(defs.resources or {}),
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )


def materialize_month(
    month: date,
    instance: dg.DagsterInstance,
    resources: dict[str, object] | None = None,
    log_level: str = "WARNING",
) -> dg.ExecuteInProcessResult:
    """One run: the chargeback statement of the month containing `month`."""
    return dg.materialize(
        [chargeback_statement],
        partition_key=month.replace(day=1).isoformat(),
        instance=instance,
        resources=resources or dict(defs.resources or {}),
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )
