"""Launching the named jobs as the UI and the daemon do (the demo), so that their runs carry the code
location's origin: on the UI's timeline, re-executable from it.

A run executed in process (`materialize.py`, what the tests use) has no code-location origin, and the UI's
timeline only places runs that have one. `launch` runs `dagster job launch -w workspace.yaml` on the
persistent instance, which loads the code location from the workspace like `dagster dev`, records the run
with that origin and executes it. The instance uses Dagster's `DefaultRunCoordinator` (`instance_at`), so a
launched run starts at once instead of waiting in a queue for a daemon. `LaunchedRuns` reads what the runs
recorded (materializations, check evaluations) from the instance's event log, with the same accessors as
`materialize.Runs`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.materialize import RANGE_END, RANGE_START

WORKSPACE = Path(__file__).resolve().parent.parent / "workspace.yaml"
INSTANCE_CONFIG = """telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""
"""The demo instance's dagster.yaml: runs launched from the CLI, the UI or the daemon start at once."""
LAUNCH_TAG = "llmusage/launch"
TIMEOUT_SECONDS = 1800


def instance_at(directory: Path) -> dg.DagsterInstance:
    """The persistent instance in `directory` (what `make ui` opens), configured to start launched runs at once."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dagster.yaml").write_text(INSTANCE_CONFIG)
    return dg.DagsterInstance.from_config(str(directory))


@dataclass
class LaunchedRuns:
    """Runs launched in order, read back from the instance."""

    instance: dg.DagsterInstance
    runs: list[dg.DagsterRun] = field(default_factory=list)
    complete: bool = True

    @property
    def success(self) -> bool:
        return self.complete and all(r.status == dg.DagsterRunStatus.SUCCESS for r in self.runs)

    def _events(self, event_type: dg.DagsterEventType) -> list:
        found = []
        for run in self.runs:
            records = self.instance.get_records_for_run(run.run_id, of_type=event_type, limit=100_000).records
            found += [r.event_log_entry.dagster_event.event_specific_data for r in records]
        return found

    def get_asset_materialization_events(self) -> list:
        """Objects with `.asset_key` and `.materialization`, like ExecuteInProcessResult's events."""
        return [
            _Materialized(d.materialization) for d in self._events(dg.DagsterEventType.ASSET_MATERIALIZATION)
        ]

    def get_asset_check_evaluations(self) -> list[dg.AssetCheckEvaluation]:
        return self._events(dg.DagsterEventType.ASSET_CHECK_EVALUATION)


@dataclass(frozen=True)
class _Materialized:
    materialization: dg.AssetMaterialization

    @property
    def asset_key(self) -> dg.AssetKey:
        return self.materialization.asset_key


def submit(instance: dg.DagsterInstance, job: str, tags: dict[str, str] | None = None) -> str:
    """Submit `job` from the workspace on `instance` (`dagster job launch`) and return the marker its run is
    tagged with. On a queued instance the run waits for the daemon; otherwise it starts at once."""
    marker = uuid.uuid4().hex
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "job",
        "launch",
        "-w",
        str(WORKSPACE),
        "-j",
        job,
    ]
    command += ["--tags", json.dumps({**(tags or {}), LAUNCH_TAG: marker})]
    env = {**os.environ, "DAGSTER_HOME": str(instance.root_directory)}
    done = subprocess.run(command, env=env, cwd=WORKSPACE.parent, capture_output=True, text=True)
    if done.returncode != 0:  # what `dagster job launch` said, not only its exit status
        raise RuntimeError(f"dagster job launch -j {job} failed:\n{done.stderr[-4000:]}")
    return marker


def wait(instance: dg.DagsterInstance, marker: str, timeout: float = TIMEOUT_SECONDS) -> dg.DagsterRun:
    """The run tagged `marker`, once it has finished."""
    deadline = time.monotonic() + timeout
    while True:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={LAUNCH_TAG: marker}), limit=1)
        if runs and runs[0].is_finished:
            return runs[0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {marker} did not finish within {timeout} s")
        time.sleep(0.5)


def launch(instance: dg.DagsterInstance, job: str, tags: dict[str, str] | None = None) -> dg.DagsterRun:
    """Launch `job` from the workspace on `instance` and wait for its run to finish."""
    return wait(instance, submit(instance, job, tags))


def launch_range(first: date, last: date, instance: dg.DagsterInstance) -> LaunchedRuns:
    """`ingest_job` over first..last (one run), then `budgets_job` unless the ingest failed."""
    result = LaunchedRuns(instance)
    ingest = launch(instance, "ingest_job", {RANGE_START: first.isoformat(), RANGE_END: last.isoformat()})
    result.runs.append(ingest)
    if ingest.status != dg.DagsterRunStatus.SUCCESS:
        result.complete = False
        return result
    result.runs.append(launch(instance, "budgets_job"))
    return result


def launch_month(month: date, instance: dg.DagsterInstance) -> LaunchedRuns:
    """`chargeback_job` for the month containing `month`."""
    run = launch(instance, "chargeback_job", {"dagster/partition": month.replace(day=1).isoformat()})
    return LaunchedRuns(instance, [run])
