"""The soak in CI: `bench/soak.py --seconds 30` (steady rate, proxy RSS sampled, growth bounded, all logged)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fault, outage, crash or soak test: left out of `make test-fast`

ROOT = Path(__file__).resolve().parents[2]


def test_soak_30_seconds(database_url: str) -> None:
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "soak.py"),
        "--seconds",
        "30",
        "--rate",
        "100",
        "--sample-every",
        "2",
        "--max-growth-mb",
        "32",
        "--database-url",
        database_url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=150, check=False)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: growth" in done.stdout
