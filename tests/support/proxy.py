"""Helpers for the proxy tests: server subprocesses on loopback ports (retried on a port taken meanwhile,
and known to be theirs), always stopped; closed ports; fixtures data."""

from __future__ import annotations

import contextlib
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


class PortTaken(RuntimeError):
    """The port was free when chosen and taken by someone else before the server bound it."""


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on 127.0.0.1:`port` (or on any address), from /proc/net/tcp."""
    wanted = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] in wanted and fields[3] == "0A":  # 0A: LISTEN
            found.add(fields[9])
    return found


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (workers of a server that forks)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in task.read_text().split())
    return out


def listens(pid: int, port: int) -> bool:
    """Whether the process `pid` (or one of its children) holds the socket listening on `port`: a 200 on
    the port is then its answer, not that of another test run's server that took the port first."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for p in _tree(pid):
        for fd in Path(f"/proc/{p}/fd").glob("*"):
            with contextlib.suppress(OSError):
                if os.readlink(fd) in sockets:
                    return True
    return False


def wait_listening(
    proc: subprocess.Popen[Any], port: int, log: Callable[[], str], timeout: float = 30
) -> None:
    """Wait until `proc` listens on `port` and answers `/health` 200. Raise PortTaken if it exited because
    the port was in use, RuntimeError if it exited otherwise or did not come up in time."""
    url = f"http://127.0.0.1:{port}/health"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            text = log()
            if "address already in use" in text.lower() or "errno 98" in text.lower():
                raise PortTaken(text[-500:])
            raise RuntimeError(f"server exited: {text[-2000:]}")
        if listens(proc.pid, port):
            try:
                if http("GET", url, timeout=1)[0] == 200:
                    return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not come up: {log()[-2000:]}")
        time.sleep(0.05)


class Server:
    """A `llmusage ...` subprocess listening on a loopback port: `port`, else a free one (chosen again if
    another process takes it before the server binds it)."""

    def __init__(
        self, args: list[str], env: dict[str, str], port: int | None, log: Callable[[int], Path]
    ) -> None:
        for attempt in range(5):
            self.port = port or free_port()
            self.log = log(self.port)
            self._log = open(self.log, "ab")  # noqa: SIM115
            self.proc = subprocess.Popen(
                [*LLMUSAGE, *args, "--port", str(self.port)],
                env=env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            self.url = f"http://127.0.0.1:{self.port}"
            try:
                wait_listening(self.proc, self.port, lambda: self.log.read_text(errors="replace"))
                return
            except PortTaken:
                self.stop()
                if port is not None or attempt == 4:
                    raise
            except BaseException:
                self.stop()
                raise

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
    return Server(["mock-upstream", *extra], env, None, lambda port: tmp / f"mock-{port}.log")


def start_proxy(tmp: Path, env: dict[str, str], *extra: str, port: int | None = None) -> Server:
    return Server(["proxy", *extra], env, port, lambda port: tmp / f"proxy-{port}.log")


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
