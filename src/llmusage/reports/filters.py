"""`--where` filters over the day-grain spend table, and what happens to a value that names nothing.

A filter value matches a dimension's display value or its id: a team by alias or id, a user by email or
id, an organization by alias or id, a key by alias, by `alias (prefix)` or by a hash prefix of 6+ hex
characters, a tag by its whole text (`env:prod`). Values are data, compared in polars, never SQL.

A value that matches nothing is an error, not a silent "no spend in range": the value is looked up among
the range's groups first, then among every value in the lake and the dimension snapshots (a valid team with
no spend in the range is not an error: the report is then empty), and only a value found nowhere is
refused, with the nearest known values (`difflib`) as suggestions.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

import polars as pl

from llmusage.errors import LlmusageError
from llmusage.reports.params import Filter

FILTER_COLUMNS = {  # dimension -> (display column, id column or None)
    "org": ("org", "org_id"),
    "team": ("team", "team_id"),
    "user": ("user", "user_id"),
    "key": ("key", "api_key"),
    "end_user": ("end_user", None),
    "model": ("model", None),
    "model_group": ("model_group", None),
    "provider": ("provider", None),
    "call_type": ("call_type", None),
    "status": ("status", None),
}
KEY_PREFIX = 6
"""A key filter value of at least this many characters also matches the start of a key's hash."""


def value_expr(dimension: str, value: str) -> pl.Expr:
    """True for the rows whose `dimension` is named by `value` (display value, id, or a key's hash prefix)."""
    if dimension == "tag":
        return pl.col("tags").list.contains(pl.lit(value))
    display, ident = FILTER_COLUMNS[dimension]
    expr = pl.col(display) == value
    if ident:
        expr = expr | (pl.col(ident) == value).fill_null(False)
    if dimension == "key":
        alias = pl.col("key").str.replace(r" \([0-9a-f]{8}\)$", "")
        expr = expr | (alias == value)
        if len(value) >= KEY_PREFIX:
            expr = expr | pl.col("api_key").str.starts_with(value.lower()).fill_null(False)
    return expr


def filter_expr(f: Filter) -> pl.Expr:
    expr = pl.lit(False)
    for value in f.values:
        expr = expr | value_expr(f.dimension, value)
    return ~expr if f.negate else expr


def known_values(groups: pl.DataFrame, dimension: str) -> list[str]:
    """Every value a filter on `dimension` could name in `groups` (display values and ids)."""
    if groups.height == 0:
        return []
    if dimension == "tag":
        return groups["tags"].explode().drop_nulls().unique().sort().to_list()
    display, ident = FILTER_COLUMNS[dimension]
    names = set(groups[display].drop_nulls().to_list())
    if ident and dimension != "key":
        names |= set(groups[ident].drop_nulls().to_list())
    if dimension == "key":
        names |= {k.rsplit(" (", 1)[0] for k in names}
    return sorted(names)


def _matches(groups: pl.DataFrame, dimension: str, value: str) -> bool:
    return groups.height > 0 and groups.select(value_expr(dimension, value).any()).item()


def check_values(
    filters: Sequence[Filter],
    groups: pl.DataFrame,
    everything: Callable[[str], pl.DataFrame],
) -> None:
    """Refuse a filter value that names nothing in the lake (see the module docstring).

    `groups` is the range's day-grain table; `everything(dimension)` gives a table with every value the
    lake and the snapshots know for it, asked for only when a value is not in the range."""
    for f in filters:
        missing = [v for v in f.values if not _matches(groups, f.dimension, v)]
        if not missing:
            continue
        known = everything(f.dimension)
        for value in missing:
            if _matches(known, f.dimension, value):
                continue
            names = known_values(known, f.dimension)
            near = difflib.get_close_matches(value, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise LlmusageError(f"--where {f.dimension}: no {f.dimension} is named {value!r}{hint}")


def apply_filters(groups: pl.DataFrame, filters: Sequence[Filter]) -> pl.DataFrame:
    for f in filters:
        groups = groups.filter(filter_expr(f))
    return groups
