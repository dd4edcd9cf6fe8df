"""Reconciliation's per-kind SQL templates compose into valid SQL for every entity kind. (That every SQL
file is named by its caller is `tests/test_architecture.py`'s.)"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from llmusage.entities import KINDS, compose
from llmusage.sqlfiles import load

PER_KIND = ("entities", "flag", "flags", "repair_spend", "unflag")


@pytest.mark.parametrize("template", PER_KIND)
def test_per_kind_templates_compose_for_every_kind(database_url: str, template: str) -> None:
    """EXPLAIN binds every name: a column a kind does not have would fail here."""
    params = {"entity_id": "none", "marker": "{}", "drift": 0.0}
    with psycopg.connect(database_url) as conn:
        for kind in KINDS:
            statement = compose(load(f"reconcile/postgres/{template}.sql"), kind)
            conn.execute(sql.SQL("EXPLAIN {}").format(statement), params)
