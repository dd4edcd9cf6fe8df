"""`llmusage report spend`: requests, tokens and spend grouped by any of the report dimensions.

The lake's logs of the range are summed once by every dimension at day grain (`sql/reports/
spend_groups.sql`; end users only when asked for, as they can be many); filters and the grouping asked
for run in polars over that small table, so no user text is ever part of a query. `tag` groups by each
request tag: a request with several tags counts under each of them, so those rows overlap, and the
totals row (computed before the tags are split) counts every request once. `tag:NAME` groups by the
value of the request's `NAME:...` tag instead (`(none)` without one), which never overlaps.

Requests are counted three ways (`REQUEST_COUNTS`): `requests`, the logs that neither failed nor were
served from a cache; `failed_requests` (status `failure`); `cached_requests` (cache hits). Tokens and
spend are summed over all of them: a failure or a cache hit usually costs nothing, but whatever it cost
is never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl

from llmusage.reports.params import TOP_DIMENSIONS, Dimension, Filter, parse_dimensions, parse_filter
from llmusage.reports.report import Report
from llmusage.reports.source import freshness, lake_connection
from llmusage.sqlfiles import load

REQUEST_COUNTS = ["requests", "failed_requests", "cached_requests"]
MEASURES = [*REQUEST_COUNTS, "tokens", "spend"]
_FILTER_COLUMNS = {  # dimension -> (display column, id column or None)
    "org": ("org", "org_id"),
    "team": ("team", "team_id"),
    "user": ("user", None),
    "key": ("key", "api_key"),
    "end_user": ("end_user", None),
    "model": ("model", None),
    "model_group": ("model_group", None),
    "provider": ("provider", None),
    "call_type": ("call_type", None),
    "status": ("status", None),
}
FIRST = date(1970, 1, 1)
LAST = date(9999, 12, 31)


def spend_groups(
    lake_dir: Path, start: date | None = None, end: date | None = None, by_end_user: bool = False
) -> pl.DataFrame:
    """The lake's spend for the inclusive UTC day range, summed by every dimension at day grain
    (`end_user` is NULL throughout unless `by_end_user`)."""
    with lake_connection(lake_dir) as duck:
        params = {"start": start or FIRST, "end": end or LAST, "by_end_user": by_end_user}
        return duck.sql(load("reports/spend_groups.sql"), params=params).pl()


def _filter_expr(f: Filter) -> pl.Expr:
    if f.dimension == "tag":
        expr = pl.lit(False)
        for value in f.values:
            expr = expr | pl.col("tags").list.contains(pl.lit(value))
    else:
        display, ident = _FILTER_COLUMNS[f.dimension]
        values = list(f.values)
        expr = pl.col(display).is_in(values)
        if ident:
            expr = expr | pl.col(ident).is_in(values).fill_null(False)
        if f.dimension == "key":  # a hash prefix of 6+ hex characters names a key too
            for value in values:
                if len(value) >= 6:
                    expr = expr | pl.col("api_key").str.starts_with(value.lower()).fill_null(False)
    return ~expr if f.negate else expr


def apply_filters(groups: pl.DataFrame, filters: Sequence[Filter]) -> pl.DataFrame:
    for f in filters:
        groups = groups.filter(_filter_expr(f))
    return groups


def group_spend(groups: pl.DataFrame, dims: Sequence[Dimension]) -> pl.DataFrame:
    """Regroup the day-grain table by `dims`; sorted by spend, largest first (ties by the dimensions).

    `share` is each group's part of the range's total spend, each request counted once (so with `tag`
    the shares may add up to more than 100%)."""
    total = float(groups["spend"].sum() or 0.0)
    frame = groups
    for d in dims:
        if d.name == "tag":
            frame = frame.with_columns(
                tag=pl.when(pl.col("tags").list.len() > 0)
                .then(pl.col("tags"))
                .otherwise(pl.lit(["(no tags)"]))
            ).explode("tag")
        elif d.tag_key:
            prefix = f"{d.tag_key}:"
            frame = frame.with_columns(
                pl.col("tags")
                .list.eval(pl.element().filter(pl.element().str.starts_with(prefix)).str.slice(len(prefix)))
                .list.first()
                .fill_null("(none)")
                .alias(d.column)
            )
    columns = [d.column for d in dims]
    out = frame.group_by(columns).agg(pl.col(MEASURES).sum())
    out = out.with_columns(share=pl.col("spend") / total if total else pl.lit(None, pl.Float64))
    return out.sort(["spend", *columns], descending=[True] + [False] * len(columns), nulls_last=True)


def spend_report(
    lake_dir: Path,
    by: str | Sequence[str] = "team",
    start: date | None = None,
    end: date | None = None,
    where: Sequence[str | Filter] = (),
) -> Report:
    """The spend report with its totals and freshness note (see the module docstring)."""
    dims = parse_dimensions(by if isinstance(by, str) else ",".join(by))
    filters = [w if isinstance(w, Filter) else parse_filter(w) for w in where]
    fresh = freshness(lake_dir)
    by_end_user = any(d.name == "end_user" for d in dims) or any(f.dimension == "end_user" for f in filters)
    groups = apply_filters(spend_groups(lake_dir, start, end, by_end_user), filters)
    frame = group_spend(groups, dims)
    totals = {
        **{c: int(groups[c].sum() or 0) for c in REQUEST_COUNTS},
        "tokens": int(groups["tokens"].sum() or 0),
        "spend": float(groups["spend"].sum() or 0.0),
        "share": 1.0 if groups.height else None,
    }
    span = f"{start or fresh.first_day} to {end or fresh.last_day}"
    notes = [fresh.note()]
    if any(d.name == "tag" for d in dims):
        notes.append("a request with several tags counts under each; the total counts it once")
    if filters:
        shown = (f"{f.dimension}{'!=' if f.negate else '='}{','.join(f.values)}" for f in filters)
        notes.append("filters: " + "; ".join(shown))
    return Report(
        name="spend",
        title=f"spend by {', '.join(d.name for d in dims)}, {span} (UTC)",
        frame=frame,
        totals=totals,
        notes=notes,
        empty_message=f"no spend in range {span}",
    )


def spend(
    lake_dir: Path,
    by: str | Sequence[str] = "team",
    start: date | None = None,
    end: date | None = None,
    where: Sequence[str | Filter] = (),
) -> pl.DataFrame:
    """Spend grouped by `by` as a DataFrame: the dimensions, requests, failed_requests, cached_requests,
    tokens, spend, share."""
    return spend_report(lake_dir, by, start, end, where).frame


def top(
    lake_dir: Path, by: str = "key", n: int = 10, start: date | None = None, end: date | None = None
) -> Report:
    """The `n` keys, users, teams or end users that spent most in the range."""
    from llmusage.errors import LlmusageError

    if by not in TOP_DIMENSIONS:
        raise LlmusageError(f"--by must be one of {', '.join(TOP_DIMENSIONS)}, got {by!r}")
    if n < 1:
        raise LlmusageError(f"--n must be at least 1, got {n}")
    report = spend_report(lake_dir, by, start, end)
    report.name = "top"
    report.title = f"top {n} by spend: {report.title}"
    shown = report.frame.head(n)
    if report.frame.height > n:
        report.notes.append(f"{report.frame.height - n} more not shown; the totals row covers all of them")
    report.frame = shown.with_row_index("rank", offset=1)
    return report
