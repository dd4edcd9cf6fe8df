"""Helpers for the proxy tests: free loopback ports, server subprocesses that are always stopped, fixtures data."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from llmusage.devtools.loopback import free_port
from llmusage.pg.connect import with_database

LLMUSAGE = [sys.executable, "-m", "llmusage"]


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


class Server:
    """A `llmusage ...` subprocess listening on a loopback port."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self._log = open(log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([*LLMUSAGE, *args], env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            try:
                status, _, _ = http("GET", self.url + "/health", timeout=1)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not come up: {log.read_text()[-2000:]}")
            time.sleep(0.05)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def start_mock(tmp: Path, env: dict[str, str], *extra: str) -> Server:
    port = free_port()
    return Server(["mock-upstream", "--port", str(port), *extra], env, port, tmp / f"mock-{port}.log")


def start_proxy(tmp: Path, env: dict[str, str], *extra: str, port: int | None = None) -> Server:
    port = port or free_port()
    return Server(["proxy", "--port", str(port), *extra], env, port, tmp / f"proxy-{port}.log")


def proxy_env(database_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    env.update(
        LLMUSAGE_DATABASE_URL=database_url,
        LLMUSAGE_HOME=str(home),
        LLMUSAGE_MASTER_KEY="sk-master-test",
        MOCK_PROVIDER_KEY="sk-provider-secret-never-logged",
    )
    return env


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block lasts: bound, so that nothing
    else can take it meanwhile, and never listening (a dead upstream, not one that might come alive)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def sha(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll `predicate` until truthy (bounded); return its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def spend_mismatches(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """Entities whose spend column differs from the sum of their logs (the proxy's invariant); a log's
    organization is its team's, else its user's (as `sql/proxy/write_logs.sql` counts it)."""
    return conn.execute(
        """
        SELECT 'key', k.token, k.spend, COALESCE(SUM(l.spend), 0) FROM "LiteLLM_VerificationToken" k
        LEFT JOIN "LiteLLM_SpendLogs" l ON l.api_key = k.token GROUP BY k.token, k.spend
        HAVING abs(COALESCE(k.spend, 0) - COALESCE(SUM(l.spend), 0)) > 1e-9
        UNION ALL
        SELECT 'user', u.user_id, u.spend, COALESCE(SUM(l.spend), 0) FROM "LiteLLM_UserTable" u
        LEFT JOIN "LiteLLM_SpendLogs" l ON l."user" = u.user_id GROUP BY u.user_id, u.spend
        HAVING abs(COALESCE(u.spend, 0) - COALESCE(SUM(l.spend), 0)) > 1e-9
        UNION ALL
        SELECT 'team', t.team_id, t.spend, COALESCE(SUM(l.spend), 0) FROM "LiteLLM_TeamTable" t
        LEFT JOIN "LiteLLM_SpendLogs" l ON l.team_id = t.team_id GROUP BY t.team_id, t.spend
        HAVING abs(COALESCE(t.spend, 0) - COALESCE(SUM(l.spend), 0)) > 1e-9
        UNION ALL
        SELECT 'organization', o.organization_id, o.spend, COALESCE(SUM(l.spend), 0)
        FROM "LiteLLM_OrganizationTable" o
        LEFT JOIN (
            SELECT COALESCE(t.organization_id, u.organization_id) AS organization_id, l.spend
            FROM "LiteLLM_SpendLogs" l
            LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = l.team_id
            LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = l."user"
        ) l ON l.organization_id = o.organization_id
        GROUP BY o.organization_id, o.spend
        HAVING abs(COALESCE(o.spend, 0) - COALESCE(SUM(l.spend), 0)) > 1e-9
        """
    ).fetchall()


@contextmanager
def mock_and_proxy(
    database_url: str, tmp: Path, setup: Callable[[psycopg.Connection, str], None], *proxy_args: str
) -> Iterator[tuple[Server, Server]]:
    """A mock provider and a proxy in front of it on loopback, `setup(conn, mock_v1_url)` run in between;
    both stopped on the way out."""
    env = proxy_env(database_url, tmp / "home")
    mock = start_mock(tmp, env)
    proxy: Server | None = None
    try:
        with psycopg.connect(database_url) as conn:
            setup(conn, mock.url + "/v1")
        proxy = start_proxy(tmp, env, *proxy_args)
        yield mock, proxy
    finally:
        if proxy is not None:
            proxy.stop()
        mock.stop()


def set_database_reachable(database_url: str, reachable: bool) -> None:
    name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(with_database(database_url, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if reachable else "false")
            )
        )
        if not reachable:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
