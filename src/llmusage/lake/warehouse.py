"""`warehouse.duckdb`: views and tables over the lake, built from `sql/warehouse/*.sql`, swapped in whole.

Each file in `sql/warehouse/` is one SELECT named after the file (`spend_logs.sql` makes `spend_logs`),
created in file-name order after a two-digit prefix (`10_spend_logs.sql`). A first line
`-- materialize: table` makes a table (computed once per build), otherwise a view (read from the lake at
query time). `{lake}` in a file stands for the lake directory as a quoted SQL string literal, and
`{reconciliation}` for the saved reconciliation (`read_parquet(...)` of it, else `no_reconciliation`, a
relation `40_budget_status.sql` defines with the same columns and no rows).

The build writes `.warehouse.duckdb.<pid>.tmp` beside the target, checkpoints and closes it, then renames
it over `warehouse.duckdb`. An analyst's open connection keeps reading the old file (its inode lives on
until closed); the build never opens the target, so it never waits for that analyst's lock.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from llmusage.config import sql_dir
from llmusage.errors import LlmusageError
from llmusage.lake.layout import SPEND_LOG_FILES, aside_path, missing_dims, spend_logs_dir

_NAME = re.compile(r"^(?:\d+_)?([a-z_][a-z0-9_]*)\.sql$")


@dataclass(frozen=True)
class WarehouseObject:
    name: str
    kind: str  # view | table
    rows: int | None


def definitions(directory: Path | None = None) -> list[tuple[str, str, str]]:
    """(name, kind, select) for every file in `sql/warehouse/`, in build order."""
    directory = directory or sql_dir() / "warehouse"
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise LlmusageError(f"unexpected file name in {directory}: {path.name}")
        text = path.read_text()
        kind = "table" if text.lstrip().startswith("-- materialize: table") else "view"
        found.append((match.group(1), kind, text))
    return found


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build(lake_dir: Path, target: Path, reconcile_dir: Path | None = None) -> list[WarehouseObject]:
    """Build the warehouse aside and rename it over `target`; returns what it holds. `reconcile_dir` holds
    the saved reconciliation (default: `reconcile/` beside the lake, as `llmusage.config.Settings` lays out
    LLMUSAGE_HOME)."""
    import duckdb

    from llmusage.reconcile.store import entities_path

    if not any(spend_logs_dir(lake_dir).glob(SPEND_LOG_FILES)):
        raise LlmusageError(
            f"the lake in {lake_dir} has no spend log partitions; run `llmusage extract` first"
        )
    missing = missing_dims(lake_dir)
    if missing:
        raise LlmusageError(f"the lake has no snapshot of {', '.join(missing)}; run `llmusage extract` first")
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = aside_path(target)
    aside.unlink(missing_ok=True)
    built: list[WarehouseObject] = []
    try:
        conn = duckdb.connect(str(aside))
        try:
            lake = quote_literal(str(lake_dir.absolute()))
            saved = entities_path(reconcile_dir or lake_dir.parent / "reconcile").absolute()
            reconciliation = (
                f"read_parquet({quote_literal(str(saved))})" if saved.exists() else "no_reconciliation"
            )
            for name, kind, text in definitions():
                select = text.replace("{lake}", lake).replace("{reconciliation}", reconciliation)
                conn.execute(f"CREATE {kind.upper()} {name} AS {select}")
                rows = None
                if kind == "table":
                    counted = conn.execute(f"SELECT count(*) FROM {name}").fetchone()
                    rows = counted[0] if counted else 0
                built.append(WarehouseObject(name, kind, rows))
            conn.execute("CHECKPOINT")
        finally:
            conn.close()
        os.replace(aside, target)
    except duckdb.Error as exc:
        raise LlmusageError(f"warehouse build failed: {str(exc).splitlines()[0]}") from exc
    finally:
        aside.unlink(missing_ok=True)
        Path(f"{aside}.wal").unlink(missing_ok=True)
    return built
