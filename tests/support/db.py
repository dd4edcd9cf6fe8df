"""Helpers shared by the tests: databases on the test server, and running `llmusage` as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from llmusage.pg.connect import with_database

ROOT = Path(__file__).resolve().parents[2]
TEST_HOME = ROOT / ".llmusage-test"
LLMUSAGE = [sys.executable, "-m", "llmusage"]


def create_database(server_url: str, template: str, label: str) -> str:
    name = f"llmusage_t_{re.sub(r'[^a-z0-9]+', '_', label.lower())[-30:]}_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    return with_database(server_url, name)


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `llmusage ARGS` in a subprocess, as a user would."""
    return subprocess.run(
        [*LLMUSAGE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
