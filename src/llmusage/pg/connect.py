"""Resolving the database URL and opening connections, with failures turned into one clear line."""

from __future__ import annotations

import psycopg
from psycopg import conninfo

from llmusage.config import Settings
from llmusage.errors import LlmusageError
from llmusage.pg import embedded


def resolve_url(settings: Settings | None = None) -> str:
    """The URL in use: `LLMUSAGE_DATABASE_URL` (validated), else the embedded server, started if needed."""
    settings = settings or Settings.from_env()
    if settings.database_url is None:
        return embedded.ensure_running(settings.pg_dir).url()
    validate_url(settings.database_url)
    return settings.database_url


def validate_url(url: str) -> dict[str, str]:
    """Parse a libpq URL or key=value string; raise LlmusageError naming the problem."""
    if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
        raise LlmusageError(f"not a PostgreSQL URL (expected postgresql://...): {redact(url)}")
    try:
        raw = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise LlmusageError(f"not a valid PostgreSQL URL ({redact(url)}): {_first_line(exc)}") from exc
    parts = {k: str(v) for k, v in raw.items() if v is not None}
    for port in str(parts.get("port") or "5432").split(","):
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise LlmusageError(f"not a valid PostgreSQL URL ({redact(url)}): port {port!r} is not a number")
    return parts


def redact(url: str) -> str:
    """The URL with any password replaced by `***`, safe to print."""
    try:
        parts = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return url.split("@")[-1] if "@" in url else url
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    user = str(parts.get("user") or "")
    return f"postgresql://{user + '@' if user else ''}{host}:{port}/{parts.get('dbname', '')}"


def connect(url: str, *, autocommit: bool = False, connect_timeout: int = 10) -> psycopg.Connection:
    """Open a connection; an unreachable server or a bad login is a LlmusageError, not a traceback."""
    validate_url(url)
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=connect_timeout)
    except psycopg.OperationalError as exc:
        raise LlmusageError(f"cannot connect to PostgreSQL at {redact(url)}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    """An exception's message folded into one line."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return "; ".join(lines) if lines else type(exc).__name__


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (used by the test harness and benchmarks)."""
    parts = validate_url(url)
    user = parts.get("user", "")
    password = parts.get("password", "")
    host = parts.get("host", "")
    port = parts.get("port", "")
    auth = f"{user}{':' + password if password else ''}@" if user else ""
    if host.startswith("/"):
        query = f"?host={host}" + (f"&port={port}" if port else "")
        return f"postgresql://{auth}/{dbname}{query}"
    return f"postgresql://{auth}{host}{':' + port if port else ''}/{dbname}"
