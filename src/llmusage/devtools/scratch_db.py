"""A throwaway database on a PostgreSQL server, for benchmarks and soaks: created migrated, dropped after.

`scratch_database(server_url, prefix)` is the usual form:

    with scratch_database(server_url, "llmusage_bench_proxy") as url:
        ...  # a migrated, empty llmusage database named <prefix>_<pid>

The name carries the process id, so runs in parallel never share a database; a leftover of a killed run
with the same name is dropped first. `create_scratch_database` and `drop_scratch_database` are the two
halves, for callers that cannot hold a `with` block open.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from llmusage.pg import migrations
from llmusage.pg.connect import with_database


def create_scratch_database(server_url: str, prefix: str) -> str:
    """Create (or re-create) `<prefix>_<pid>` on the server of `server_url`, migrated; returns its URL."""
    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        migrations.migrate(conn)
    return url


def drop_scratch_database(server_url: str, url: str) -> None:
    """Drop the database `url` names (connections to it are ended), through the server of `server_url`."""
    name = psycopg.conninfo.conninfo_to_dict(url).get("dbname")
    if not isinstance(name, str):
        raise ValueError("the scratch database's URL names no database")
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A migrated throwaway database for the block (its URL), dropped afterwards whatever happens."""
    url = create_scratch_database(server_url, prefix)
    try:
        yield url
    finally:
        drop_scratch_database(server_url, url)
