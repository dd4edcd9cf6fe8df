"""Loading SQL kept as files under `sql/` (one statement per file), so that no query is built in Python.

The text of a file is typed `LiteralString`: it is code shipped with the project, not data, so psycopg and
DuckDB take it as a query without a cast at every call. Names that vary are composed with
`psycopg.sql.Identifier` over the loaded text; values are always bound parameters.
"""

from __future__ import annotations

from functools import cache
from typing import LiteralString, cast

from llmusage.config import sql_dir


def trusted(text: str) -> LiteralString:
    """SQL text that is code (a project file, a migration directory the operator named), never user data."""
    return cast(LiteralString, text)


@cache
def load(relative: str) -> LiteralString:
    """The text of `sql/<relative>`, e.g. `load("status/over_budget.sql")`."""
    return trusted((sql_dir() / relative).read_text())
