"""Reconciliation's per-kind SQL templates compose into valid SQL for every entity kind. (That every SQL
file is named by its caller is `tests/test_architecture.py`'s.)"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from llmusage.entities import KINDS, compose
from llmusage.sqlfiles import load

PER_KIND = (
    "sources/llmusage/entities",
    *(f"reconcile/postgres/{t}" for t in ("flag", "flags", "repair_spend", "unflag")),
)


@pytest.mark.parametrize("template", PER_KIND)
def test_per_kind_templates_compose_for_every_kind(database_url: str, template: str) -> None:
    """EXPLAIN binds every name: a column a kind does not have would fail here."""
    params = {"entity_id": "none", "marker": "{}", "drift": 0.0}
    with psycopg.connect(database_url) as conn:
        for kind in KINDS:
            statement = compose(load(f"{template}.sql"), kind)
            conn.execute(sql.SQL("EXPLAIN {}").format(statement), params)


def test_litellm_entity_queries_bind_on_litellms_schema(litellm_database_url: str) -> None:
    """Each kind's entity query on a database built by LiteLLM's own migrations."""
    with psycopg.connect(litellm_database_url) as conn:
        for kind in KINDS:
            conn.execute(
                sql.SQL("EXPLAIN {}").format(sql.SQL(load(f"sources/litellm/entities_{kind.label}.sql")))
            )
