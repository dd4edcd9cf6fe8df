"""PostgreSQL really stopped (not just refusing one database) for a bounded time under proxy load.

A throwaway embedded server is used, so the shared test server and the machine's 5432 are never touched.
During the outage every answer must be a clean 200 (key cached, spend spooled) or a clean 503 (an unknown
key that cannot be looked up): no 500, no hang. Afterwards the spool drains, every 200 has exactly one
spend log, and every spend column (key, user, team, organization) equals the sum of its logs. kill -9 under load is in test_proxy_crash.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from llmusage.pg import embedded, migrations
from support.proxy import proxy_env, spend_mismatches, start_mock, start_proxy, wait_for
from support.reliability import Load, add_key, add_model, chat, drained, rows_per_request

pytestmark = pytest.mark.slow  # a fault, outage, crash or soak test: left out of `make test-fast`

OUTAGE_SECONDS = float(os.environ.get("LLMUSAGE_OUTAGE_SECONDS", "30"))
KEYS = [f"sk-outage-{i}-{'x' * 16}" for i in range(3)]


def _start_again(pg: Path) -> None:
    # pgserver starts the first time; a stopped cluster is started with pg_ctl and the same socket options.
    embedded._pg_ctl(pg, ["-w", "-t", "60", "-l", str(pg / "log"), "-o", f'-h "" -k {pg}', "start"])


def test_postgres_stopped_under_load(tmp_path: Path) -> None:
    # Not under tmp_path: pytest makes its directories 0700, and as root the server runs as the pgserver
    # user, which pg_ctl must let into the data directory's parents.
    scratch = Path(tempfile.mkdtemp(prefix="llmusage-outage-"))
    scratch.chmod(0o755)
    pg = scratch / "pg"
    info = embedded.ensure_running(pg)
    url = info.url()
    mock = proxy = None
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrations.migrate(conn)
        env = proxy_env(url, tmp_path / "home")
        mock = start_mock(tmp_path, env)
        with psycopg.connect(url) as conn:
            conn.execute("""INSERT INTO "LiteLLM_OrganizationTable" (organization_id) VALUES ('o-o')""")
            conn.execute(
                """INSERT INTO "LiteLLM_TeamTable" (team_id, organization_id, max_budget) VALUES ('t-o', 'o-o', 1000)"""
            )
            conn.execute("""INSERT INTO "LiteLLM_UserTable" (user_id, user_role) VALUES ('u-o', 'user')""")
            for key in KEYS:
                add_key(conn, key, team="t-o", user="u-o", max_budget=1000)
            add_model(conn, mock.url + "/v1")
        proxy = start_proxy(tmp_path, env, "--cache-ttl", "0.5")
        load = Load(proxy.url, KEYS, threads=6, max_seconds=OUTAGE_SECONDS + 90).start()
        try:
            assert wait_for(lambda: load.count() >= 100, timeout=30)
            embedded.stop(pg)
            stopped = time.monotonic()
            try:
                before = load.count()
                statuses_before = sum(load.statuses.values())
                # an unknown key cannot be looked up: a clean 503, not a 500 and not a hang
                status, _, body = chat(proxy.url, "sk-never-seen-" + "y" * 20)
                assert status == 503, body
                assert b"db_unavailable" in body
                time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
                during = load.count() - before
                answered = sum(load.statuses.values()) - statuses_before
            finally:
                _start_again(pg)
            outage = time.monotonic() - stopped
            assert during > 0  # kept serving from the key cache, spooling the logs
            after = load.count()
            assert wait_for(lambda: load.count() >= after + 100, timeout=30)  # and serves on after it
        finally:
            load.stop()
        # the spool drains once the load stops (under load its depth is rarely exactly 0)
        started = time.monotonic()
        assert wait_for(drained(proxy.url), timeout=60)
        drain = time.monotonic() - started
        print(
            f"outage {outage:.1f}s: {answered} answers during it, {during} of them 200; drained {drain:.1f}s"
            f" after the load stopped;"
            f" total {dict(load.statuses)} codes {dict(load.codes)}"
        )
        assert set(load.statuses) <= {200, 503}, load.statuses
        with psycopg.connect(url) as conn:
            found = rows_per_request(conn, load.ok)
            assert len(load.ok) == len(set(load.ok))
            missing = set(load.ok) - set(found)
            assert not missing, (
                f"{len(missing)} of {len(load.ok)} 200s have no spend log: {sorted(missing)[:5]}"
            )
            assert set(found.values()) == {1}
            assert spend_mismatches(conn) == []  # keys, user, team and organization
            (org,) = conn.execute(
                """SELECT spend FROM "LiteLLM_OrganizationTable" WHERE organization_id = 'o-o'"""
            ).fetchone()
            assert org > 0
            logged = conn.execute('SELECT count(*) FROM "LiteLLM_SpendLogs"').fetchone()[0]
            # refusals are not logged; a log without a 200 is a request whose client gave up (none here)
            assert logged == len(load.ok), (logged, len(load.ok), dict(load.statuses))
    finally:
        if proxy is not None:
            proxy.stop()
        if mock is not None:
            mock.stop()
        embedded.stop(pg)
        shutil.rmtree(scratch, ignore_errors=True)
