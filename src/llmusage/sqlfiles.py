"""Loading SQL kept as files under `sql/` (one statement per file), so that no query is built in Python."""

from __future__ import annotations

from functools import cache

from llmusage.config import sql_dir


@cache
def load(relative: str) -> str:
    """The text of `sql/<relative>`, e.g. `load("status/over_budget.sql")`."""
    return (sql_dir() / relative).read_text()
