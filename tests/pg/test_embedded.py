"""The embedded PostgreSQL: started on demand, shared by concurrent processes, reported by `db status`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg

from llmusage.pg import embedded
from support.db import LLMUSAGE, run_cli


def test_concurrent_processes_share_one_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    env["LLMUSAGE_HOME"] = str(home)
    try:
        procs = [
            subprocess.Popen(
                [*LLMUSAGE, "db", "url"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outputs
        urls = {out.strip() for out, _ in outputs}
        assert len(urls) == 1, urls
        url = urls.pop()
        info = embedded.read_running(home / "pg")
        assert info is not None
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("llmusage",)
            # the server whose data directory is this home's (not merely some server that answered)
            (data,) = conn.execute("SHOW data_directory").fetchone()
            assert Path(data).resolve().is_relative_to((home / "pg").resolve()), data
        # A later process reuses the same server (same postmaster), and `db migrate` / `db status` work on it.
        assert run_cli("db", "migrate", env=env).returncode == 0
        status = run_cli("db", "status", env=env)
        assert status.returncode == 0, status.stderr
        assert f"pid {info.pid}" in status.stdout
        assert "0001_litellm_schema" in status.stdout and "0 pending" in status.stdout
        assert "LiteLLM_SpendLogs" in status.stdout
        assert embedded.read_running(home / "pg") == info
    finally:
        stop = run_cli("db", "stop", env=env)
    assert stop.returncode == 0 and stop.stdout.strip() == "stopped"
    assert embedded.read_running(home / "pg") is None
    # The data survives a stop: the next command starts the server again on the same data.
    try:
        again = run_cli("db", "status", env=env)
        assert again.returncode == 0, again.stderr
        assert "0 pending" in again.stdout
    finally:
        run_cli("db", "stop", env=env)


def test_restart_in_the_same_process(tmp_path: Path) -> None:
    """A server stopped by this process starts again when this process asks for it."""
    pg_dir = tmp_path / "pg"
    try:
        first = embedded.ensure_running(pg_dir)
        assert embedded.stop(pg_dir)
        second = embedded.ensure_running(pg_dir)
        assert second.pid != first.pid
        with psycopg.connect(second.url()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        embedded.stop(pg_dir)
