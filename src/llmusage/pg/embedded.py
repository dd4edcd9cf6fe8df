"""The embedded PostgreSQL server (PyPI `pgserver`): started on demand, shared by concurrent processes.

The server lives in `$LLMUSAGE_HOME/pg`, listens on a Unix socket inside that directory only, and keeps
running after the process that started it exits, so that the next command (or a concurrent one) reuses it.
Start-up (initdb, tuning, the one restart a new server needs) happens under a file lock beside the data
directory, and a marker file says it is done; a running server is then found by reading `postmaster.pid`,
which keeps `pgserver` off the hot path. `llmusage db stop` stops it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from llmusage.errors import LlmusageError

APP_DATABASE = "llmusage"

# Settings applied once to a new embedded server: bigger WAL for bulk loads (seed, benchmarks).
_READY = ".llmusage-ready"

# Settings applied once to a new embedded server. It serves one machine and no replicas, so WAL is kept
# minimal (a COPY into a table truncated in the same transaction then skips WAL); bigger WAL for bulk loads.
_TUNING = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "maintenance_work_mem": "512MB",
    "work_mem": "64MB",
}


@dataclass(frozen=True)
class ServerInfo:
    """What `postmaster.pid` tells of a running server."""

    pid: int
    socket_dir: Path
    port: int
    status: str

    def url(self, database: str = APP_DATABASE) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"


def read_running(pg_dir: Path) -> ServerInfo | None:
    """The server running in `pg_dir`, or None when there is none (or it is not ready)."""
    try:
        lines = (pg_dir / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if len(lines) < 8:
        return None
    pid = int(lines[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    if lines[7].strip() != "ready" or not lines[4].strip():
        return None
    return ServerInfo(pid=pid, socket_dir=Path(lines[4].strip()), port=int(lines[3]), status="ready")


def ensure_running(pg_dir: Path) -> ServerInfo:
    """Start the embedded server if needed, create the app database, and return the running server."""
    info = read_running(pg_dir)
    if info is not None and (pg_dir / _READY).exists():
        return info
    pg_dir = pg_dir.absolute()
    try:
        pg_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LlmusageError(f"cannot create {pg_dir.parent}: {exc.strerror}") from exc
    with _start_lock(pg_dir):
        info = read_running(pg_dir)
        if info is None or not (pg_dir / _READY).exists():
            _start(pg_dir)
            info = read_running(pg_dir)
            if info is None:
                raise LlmusageError(
                    f"the embedded PostgreSQL in {pg_dir} did not come up; see {pg_dir / 'log'}"
                )
            if _prepare(info):
                _pg_ctl(pg_dir, ["-w", "-t", "60", "restart"])
                info = read_running(pg_dir)
                if info is None:
                    raise LlmusageError(
                        f"the embedded PostgreSQL in {pg_dir} did not restart; see {pg_dir / 'log'}"
                    )
            (pg_dir / _READY).touch()
    return info


@contextmanager
def _start_lock(pg_dir: Path) -> Iterator[None]:
    """An exclusive lock beside the data directory, held while a server is started and prepared."""
    with open(pg_dir.parent / f".{pg_dir.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start(pg_dir: Path) -> None:
    """initdb (with the C locale: byte-order text comparisons, fast index builds) and start."""
    logging.getLogger("pgserver").setLevel(logging.CRITICAL)
    saved = {name: os.environ.get(name) for name in ("LC_ALL", "LANG")}
    os.environ["LC_ALL"] = os.environ["LANG"] = "C"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver.postgres_server import PostgresServer

            # pgserver caches a handle per data directory in the process; a handle to a server that was
            # stopped since would be returned as it is, without starting anything.
            PostgresServer._instances.pop(pg_dir.resolve(), None)
            pgserver.get_server(pg_dir, cleanup_mode=None)
    except Exception as exc:
        log = pg_dir / "log"
        hint = f"; see {log}" if log.exists() else ""
        raise LlmusageError(f"cannot start the embedded PostgreSQL in {pg_dir}: {exc}{hint}") from exc
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _prepare(info: ServerInfo) -> bool:
    """Tune the server and create the application database; True when a restart is needed."""
    restart = False
    with psycopg.connect(info.url("postgres"), autocommit=True) as conn:
        for name, value in _TUNING.items():
            row = conn.execute(
                "SELECT setting, unit, context FROM pg_settings WHERE name = %s", (name,)
            ).fetchone()
            shown = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
            if row is None or shown is None or shown[0] == value:
                continue
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), value))
            restart = restart or row[2] == "postmaster"
        conn.execute("SELECT pg_reload_conf()")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(APP_DATABASE)))
    return restart


def _pg_ctl(pg_dir: Path, args: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl

        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(args, pgdata=pg_dir.absolute(), user=user)


def stop(pg_dir: Path) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    info = read_running(pg_dir)
    if info is None:
        return False
    _pg_ctl(pg_dir, ["-w", "-m", "fast", "stop"])
    return True
