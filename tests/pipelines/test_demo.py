"""`make demo` end to end: database, migrations, seed with anomalies, the Dagster graph, reports."""

from __future__ import annotations

import re
import subprocess
import sys

from support.db import ROOT


def test_demo_runs_end_to_end(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.demo", "--logs", "4000", "--days", "5"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "migrations:" in result.stdout
    assert "seed: 4,000 spend logs" in result.stdout
    assert re.search(r"entities over budget: [1-9]", result.stdout)
