"""`make demo` end to end: database, migrations, seed with anomalies, the Dagster graph, reports; then the
LiteLLM leg on a second database of the same server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from llmusage.devtools.scratch_db import drop_scratch_database
from pipelines.demo import LITELLM_HOME, litellm_database_url
from support.db import ROOT


@pytest.fixture(scope="module")
def demo_run(cli_env: dict[str, str], server_url: str) -> Iterator[subprocess.CompletedProcess[str]]:
    """One run of the demo at a small size (both legs); the LiteLLM leg's database is dropped afterwards."""
    try:
        yield subprocess.run(
            [sys.executable, "-m", "pipelines.demo", "--logs", "4000", "--days", "5"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=ROOT,
        )
    finally:
        drop_scratch_database(server_url, litellm_database_url(cli_env["LLMUSAGE_DATABASE_URL"]))


def test_demo_runs_end_to_end(demo_run: subprocess.CompletedProcess[str]) -> None:
    assert demo_run.returncode == 0, demo_run.stderr
    assert "migrations:" in demo_run.stdout
    assert "seed: 4,000 spend logs" in demo_run.stdout
    assert re.search(r"entities over budget: [1-9]", demo_run.stdout)


def test_demo_runs_are_launched_from_the_code_location(
    demo_run: subprocess.CompletedProcess[str], cli_env: dict[str, str]
) -> None:
    """What puts a run on the UI's timeline and makes it re-executable there: its code-location origin."""
    import dagster as dg

    assert demo_run.returncode == 0, demo_run.stderr
    with dg.DagsterInstance.from_config(str(Path(cli_env["LLMUSAGE_HOME"]) / "dagster")) as instance:
        runs = instance.get_runs()
    assert sorted(r.job_name for r in runs) == ["budgets_job", "chargeback_job", "ingest_job"]
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert all(r.remote_job_origin is not None for r in runs)
    assert {r.remote_job_origin.location_name for r in runs} == {"pipelines.definitions"}


def test_demo_shows_the_litellm_flavour(
    demo_run: subprocess.CompletedProcess[str], cli_env: dict[str, str]
) -> None:
    assert demo_run.returncode == 0, demo_run.stderr
    out = demo_run.stdout.split("== LiteLLM flavour", 1)[1]
    # db status names the flavour and LiteLLM's latest Prisma migration; db migrate adds only llmusage's schema
    assert re.search(r"flavour\s+LiteLLM \(latest migration \d{14}_\w+\)", out)
    assert "created schema llmusage" in out and "skipped 0001_litellm_schema.sql" in out
    # reconcile gives each kind an exceeded entity, and exactly the statuses LiteLLM's pre-call checks imply
    for kind in ("key", "user", "team", "organization", "end_user", "tag", "team_member"):
        assert re.search(rf"│ {kind}\s*│[^\n]*│ exceeded", out), kind
    refused = re.search(r"LiteLLM refuses (\d+) of its (\d+) budgeted", out)
    summary = re.search(r"\d+ entities: (\d+) exceeded", out)
    assert refused and summary and int(refused[1]) == int(summary[1]) >= 4
    assert f"all {refused[2]} statuses match" in out
    assert re.search(r"spend by model_group", out) and re.search(
        r"chargeback \d{4}-\d{2} by team: [1-9]", out
    )
    # the leg has a home of its own: the first leg's lake holds only llmusage-flavour partitions
    home = Path(cli_env["LLMUSAGE_HOME"])
    assert any((home / LITELLM_HOME / "lake" / "spend_logs").iterdir())
    days = sorted(
        date.fromisoformat(p.name.removeprefix("date=")) for p in (home / "lake" / "spend_logs").iterdir()
    )
    assert days and (days[-1] - days[0]).days <= 6  # the first leg's 5 days, not the LiteLLM leg's 30
