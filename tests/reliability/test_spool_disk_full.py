"""A full disk under the spool: a clear error, 503s, and no acknowledged log lost.

The disk fills for real from the proxy's point of view: the proxy runs under `prlimit --fsize` (a file
size limit), so a spool segment cannot grow past it: the write that crosses it is short (part of a line)
and the next ones fail with EFBIG, as on a full disk (ENOSPC) the proxy gets a short write, then an error.
PostgreSQL is unreachable meanwhile (so the spool holds every row), then the proxy is killed with -9,
the database comes back, and a fresh proxy replays the spool: every 200 must have exactly one spend log.
(`test_proxy_crash.py` covers the other bound: `--spool-max-mb`.)
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

import support.proxy as proxy_support
from llmusage.proxy.spool import Spool
from support.proxy import (
    proxy_env,
    set_database_reachable,
    spend_mismatches,
    start_mock,
    start_proxy,
    wait_for,
)
from support.reliability import add_key, add_model, chat, drained, rows_per_request

pytestmark = pytest.mark.slow  # a fault, outage, crash or soak test: left out of `make test-fast`

KEY = "sk-diskfull-" + "z" * 20
LIMIT = 48 * 1024  # bytes a file of the proxy may reach


def test_full_spool_disk_refuses_503_and_loses_nothing(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = proxy_env(database_url, tmp_path / "home")
    mock = start_mock(tmp_path, env)
    proxy = None
    try:
        with psycopg.connect(database_url) as conn:
            conn.execute("""INSERT INTO "LiteLLM_OrganizationTable" (organization_id) VALUES ('o-disk')""")
            conn.execute(
                """INSERT INTO "LiteLLM_TeamTable" (team_id, organization_id) VALUES ('t-disk', 'o-disk')"""
            )
            add_key(conn, KEY, team="t-disk", max_budget=1000)
            add_model(conn, mock.url + "/v1")
        with monkeypatch.context() as m:
            m.setattr(proxy_support, "LLMUSAGE", ["prlimit", f"--fsize={LIMIT}", *proxy_support.LLMUSAGE])
            proxy = start_proxy(tmp_path, env)
        assert chat(proxy.url, KEY)[0] == 200  # warms the key cache
        ok: list[str] = []
        statuses: list[int] = []
        set_database_reachable(database_url, False)
        try:
            for i in range(400):  # about 70 rows fit under the limit
                status, headers, body = chat(proxy.url, KEY, f"fill {i}")
                statuses.append(status)
                if status == 200:
                    ok.append(headers["x-request-id"])
                else:
                    assert status == 503, body
                    assert json.loads(body)["error"]["code"] in ("spool_error", "spool_full")
                if statuses[-5:] == [503] * 5:
                    break
            assert 503 in statuses and len(ok) > 10
            assert statuses[statuses.index(503) :] == [503] * (len(statuses) - statuses.index(503))
            proxy.kill9()
        finally:
            set_database_reachable(database_url, True)
        log = proxy.log.read_text(errors="replace")
        assert "cannot spool a spend log" in log
        print(f"disk full after {len(ok)} logged 200s; then {statuses.count(503)} x 503")
        proxy = start_proxy(tmp_path, env)
        assert wait_for(drained(proxy.url), timeout=30)
        assert chat(proxy.url, KEY)[0] == 200  # the spool works again once there is room
        with psycopg.connect(database_url) as conn:
            found = rows_per_request(conn, ok)
            missing = set(ok) - set(found)
            assert not missing, f"{len(missing)} acknowledged requests have no spend log"
            assert set(found.values()) == {1}
            assert spend_mismatches(conn) == []  # the key, its team and the team's organization
            (org,) = conn.execute(
                """SELECT spend FROM "LiteLLM_OrganizationTable" WHERE organization_id = 'o-disk'"""
            ).fetchone()
            assert org > 0
    finally:
        if proxy is not None:
            proxy.stop()
        mock.stop()


def test_a_short_write_is_rolled_back_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit level: a short write leaves no partial line behind and raises (ENOSPC), the row is not counted."""
    import asyncio
    import os

    spool = Spool(tmp_path / "spool", 1 << 20, 1 << 20)
    spool.open()
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[:7])  # the disk filled mid-line

    async def scenario() -> None:
        _, fut = spool.append(b'{"a":1}\n')
        await fut
        monkeypatch.setattr("llmusage.proxy.spool.os.write", short_write)
        with pytest.raises(OSError):
            spool.append(b'{"request_id":"torn","spend":1}\n')
        monkeypatch.setattr("llmusage.proxy.spool.os.write", real_write)
        _, fut = spool.append(b'{"b":2}\n')
        await fut

    asyncio.run(scenario())
    [segment] = list((tmp_path / "spool").glob("seg-*.jsonl"))
    assert segment.read_bytes() == b'{"a":1}\n{"b":2}\n'
    assert spool.pending_rows == 2
    spool.close()
