"""Test fixtures: a real PostgreSQL, and a fresh database per test module cloned from a migrated template.

The server is the embedded one (under `.llmusage-test/`), or the one `LLMUSAGE_TEST_DATABASE_URL` names.
The template's name carries a hash of the migrations, so an edited or added migration makes a new one.
Helpers that tests import live in `support/` (on the path through pytest's `pythonpath`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from llmusage.devtools.litellm_schema import create_litellm_schema, litellm_version
from llmusage.devtools.scratch_db import drop_scratch_database as drop_database
from llmusage.pg import embedded, migrations
from llmusage.pg.connect import with_database
from support.db import TEST_HOME, create_database


@pytest.fixture(scope="session")
def server_url(request: pytest.FixtureRequest) -> str:
    """A URL of the test server's maintenance database."""
    url = os.environ.get("LLMUSAGE_TEST_DATABASE_URL")
    if not url:
        TEST_HOME.mkdir(exist_ok=True)
        pg_dir = TEST_HOME / "pg"
        started_here = embedded.read_running(pg_dir) is None
        info = embedded.ensure_running(pg_dir)
        if started_here:  # leave the machine as we found it
            request.addfinalizer(lambda: embedded.stop(pg_dir))
        return info.url("postgres")
    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"LLMUSAGE_TEST_DATABASE_URL is set but unreachable: {exc}")
    return url


def _template(server_url: str, name: str, build: Callable[[psycopg.Connection], object]) -> str:
    """Database `name` on the server, built once by `build` (on a fresh database, renamed into place when
    done, so a half-built template is never used) and reused across runs; builders wait for each other."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(7243)")
        try:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                building = f"{name}_building_{os.getpid()}"
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(building)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
                with psycopg.connect(with_database(server_url, building), autocommit=True) as target:
                    build(target)
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(building), sql.Identifier(name)
                    )
                )
        finally:
            conn.execute("SELECT pg_advisory_unlock(7243)")
    return name


@pytest.fixture(scope="session")
def template_name(server_url: str) -> str:
    """A migrated template database, made once per migration set and reused across runs."""
    digest = hashlib.sha256("".join(m.checksum for m in migrations.discover()).encode()).hexdigest()[:12]
    return _template(server_url, f"llmusage_tpl_{digest}", migrations.migrate)


@pytest.fixture(scope="session")
def litellm_template_name(server_url: str) -> str:
    """A template database with LiteLLM's schema, built by LiteLLM's own migrations (no rows)."""
    return _template(
        server_url, f"llmusage_tpl_litellm_{litellm_version().replace('.', '_')}", create_litellm_schema
    )


@pytest.fixture(scope="module")
def litellm_database_url(
    request: pytest.FixtureRequest, server_url: str, litellm_template_name: str
) -> Iterator[str]:
    """A fresh LiteLLM-flavour database (LiteLLM's migrations, no rows) for this test module."""
    url = create_database(server_url, litellm_template_name, request.module.__name__ + "_litellm")
    yield url
    drop_database(server_url, url)


@pytest.fixture(scope="module")
def database_url(request: pytest.FixtureRequest, server_url: str, template_name: str) -> Iterator[str]:
    """A fresh, migrated database for this test module."""
    url = create_database(server_url, template_name, request.module.__name__)
    yield url
    drop_database(server_url, url)


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, server_url: str) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = f"llmusage_e_{re.sub(r'[^a-z0-9]+', '_', request.node.name.lower())[-30:]}_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_url, name)
    yield url
    drop_database(server_url, url)


@pytest.fixture(scope="module")
def cli_env(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for running `llmusage` as a subprocess against this module's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    env["LLMUSAGE_DATABASE_URL"] = database_url
    env["LLMUSAGE_HOME"] = str(tmp_path_factory.mktemp("home"))
    return env
