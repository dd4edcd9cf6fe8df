"""Reconciliation's SQL files: each one is named by its caller (a grep for the file finds the code that runs
it), and each per-kind template composes into valid SQL for every entity kind."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from llmusage.config import sql_dir
from llmusage.entities import KINDS, compose
from llmusage.sqlfiles import load

SRC = Path(__file__).resolve().parents[2] / "src" / "llmusage"
PER_KIND = ("entities", "flag", "flags", "repair_spend", "unflag")


def _sources() -> str:
    return "\n".join(path.read_text() for path in SRC.rglob("*.py"))


@pytest.mark.parametrize("folder", ["reconcile/postgres", "reconcile/duckdb", "status"])
def test_every_sql_file_is_named_by_its_caller(folder: str) -> None:
    sources = _sources()
    files = sorted((sql_dir() / folder).glob("*.sql"))
    assert files
    assert [f.name for f in files if f'"{folder}/{f.name}"' not in sources] == []


@pytest.mark.parametrize("template", PER_KIND)
def test_per_kind_templates_compose_for_every_kind(database_url: str, template: str) -> None:
    """EXPLAIN binds every name: a column a kind does not have would fail here."""
    params = {"entity_id": "none", "marker": "{}", "drift": 0.0}
    with psycopg.connect(database_url) as conn:
        for kind in KINDS:
            statement = compose(load(f"reconcile/postgres/{template}.sql"), kind)
            conn.execute(sql.SQL("EXPLAIN {}").format(statement), params)
