"""Flavour detection on real databases: an llmusage one, a LiteLLM one built by LiteLLM's migrations, an empty one."""

from __future__ import annotations

import psycopg

from llmusage.sources.detect import Flavour, detect


def test_llmusage_database(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        assert detect(conn).flavour is Flavour.LLMUSAGE


def test_litellm_database_names_its_latest_migration(litellm_database_url: str) -> None:
    with psycopg.connect(litellm_database_url) as conn:
        found = detect(conn)
        latest = conn.execute("SELECT max(migration_name) FROM _prisma_migrations").fetchone()
    assert found.flavour is Flavour.LITELLM
    assert latest is not None and found.litellm_migration == latest[0]
    assert found.describe() == f"LiteLLM (latest migration {latest[0]})"


def test_empty_database(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url) as conn:
        assert detect(conn).flavour is Flavour.EMPTY
