"""The warehouse's `budget_status` is the reconciliation's saved result (one verdict, not a second
computation): empty with the same columns before any reconciliation; once built with one, the saved rows
(the statuses PostgreSQL holds after write-back), read at query time, so a newer reconciliation shows
without a rebuild."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import psycopg

from llmusage.devtools.seed import SeedOptions, seed
from llmusage.lake.dims import snapshot_dims
from llmusage.lake.extract import extract
from llmusage.lake.warehouse import build
from llmusage.reconcile import reconcile, write_back
from llmusage.reconcile.store import save

KEYS = ["entity_type", "entity_id"]


def _budget_status(target: Path) -> tuple[list[tuple], pl.DataFrame]:
    with duckdb.connect(str(target), read_only=True) as conn:
        columns = [(name, kind) for name, kind, *_ in conn.execute("DESCRIBE budget_status").fetchall()]
        return columns, conn.sql("SELECT * FROM budget_status").pl()


def _team_statuses(rows: pl.DataFrame) -> list[str]:
    return rows.filter(pl.col("entity_type") == "team")["status"].to_list()


def test_warehouse_budget_status_is_the_saved_reconciliation(database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url) as conn:
        seed(
            conn, SeedOptions(logs=3000, days=3, seed=5, end=datetime(2026, 2, 1), anomalies=True, reset=True)
        )
    lake, target, saved = tmp_path / "lake", tmp_path / "warehouse.duckdb", tmp_path / "reconcile"
    extract(database_url, lake)
    snapshot_dims(database_url, lake)

    build(lake, target)  # no reconciliation yet
    empty_columns, empty = _budget_status(target)
    assert empty.height == 0

    result = reconcile(database_url, lake)
    save(result, saved)
    build(lake, target, saved)
    columns, rows = _budget_status(target)
    assert columns == empty_columns
    assert [name for name, _ in columns] == result.entities.columns
    assert rows.sort(KEYS).equals(result.entities.sort(KEYS))
    assert {"exceeded", "orphaned"} <= set(rows["status"])
    assert set(_team_statuses(rows)) != {"ok"}

    write_back(database_url, result)
    with psycopg.connect(database_url) as conn:
        written = set(
            conn.execute("SELECT entity_type, entity_id, status FROM llmusage.budget_status").fetchall()
        )
        conn.execute('UPDATE "LiteLLM_TeamTable" SET max_budget = NULL')  # no team is over budget any more
    assert written == set(rows.select(*KEYS, "status").iter_rows())

    newer = reconcile(database_url, lake)
    save(newer, saved)  # the warehouse is not rebuilt: its view reads the saved result at query time
    _, rows = _budget_status(target)
    assert rows.sort(KEYS).equals(newer.entities.sort(KEYS))
    assert set(_team_statuses(rows)) == {"ok"}
