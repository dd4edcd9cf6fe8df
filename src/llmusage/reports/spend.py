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

from llmusage.lake.layout import dim_path
from llmusage.reports.filters import apply_filters, check_values
from llmusage.reports.params import (
    TIME_DIMENSIONS,
    Dimension,
    Filter,
    parse_dimension,
    parse_dimensions,
    parse_filter,
)
from llmusage.reports.report import Report
from llmusage.reports.source import freshness, lake_connection
from llmusage.sqlfiles import load

REQUEST_COUNTS = ["requests", "failed_requests", "cached_requests"]
MEASURES = [*REQUEST_COUNTS, "tokens", "spend"]
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


def group_spend(groups: pl.DataFrame, dims: Sequence[Dimension]) -> pl.DataFrame:
    """Regroup the day-grain table by `dims`; sorted by spend, largest first (ties by the dimensions), or
    by the time dimensions first (oldest first) when there are any (`--by day` reads as a time series).

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
    times = [d.column for d in dims if d.name in TIME_DIMENSIONS]
    others = [c for c in columns if c not in times]
    keys = [*times, "spend", *others]
    return out.sort(keys, descending=[k == "spend" for k in keys], nulls_last=True)


def _everything(lake_dir: Path, dimension: str) -> pl.DataFrame:
    """Every value the lake's logs and the dimension snapshots know for `dimension` (see filters.py)."""
    frames = [spend_groups(lake_dir, by_end_user=dimension == "end_user")]
    snapshots = {
        "team": ("teams", pl.col("team_alias").fill_null(pl.col("team_id")).alias("team"), "team_id"),
        "user": ("users", pl.col("user_email").fill_null(pl.col("user_id")).alias("user"), "user_id"),
        "org": (
            "organizations",
            pl.col("organization_alias").fill_null(pl.col("organization_id")).alias("org"),
            pl.col("organization_id").alias("org_id"),
        ),
        "key": (
            "keys",
            (
                pl.col("key_alias").fill_null("(no alias)") + " (" + pl.col("token").str.slice(0, 8) + ")"
            ).alias("key"),
            pl.col("token").alias("api_key"),
        ),
    }
    if dimension in snapshots and dim_path(lake_dir, snapshots[dimension][0]).exists():
        table, display, ident = snapshots[dimension]
        frames.append(pl.read_parquet(dim_path(lake_dir, table)).select(display, ident))
    return pl.concat(frames, how="diagonal_relaxed")


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
    groups = spend_groups(lake_dir, start, end, by_end_user)
    check_values(filters, groups, lambda dimension: _everything(lake_dir, dimension))
    groups = apply_filters(groups, filters)
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
    lake_dir: Path,
    by: str = "key",
    n: int = 10,
    start: date | None = None,
    end: date | None = None,
    where: Sequence[str | Filter] = (),
) -> Report:
    """The `n` groups of any dimension (keys by default) that spent most in the range, after `where`."""
    from llmusage.errors import LlmusageError

    dim = parse_dimension(by)
    if n < 1:
        raise LlmusageError(f"--n must be at least 1, got {n}")
    report = spend_report(lake_dir, dim.name, start, end, where)
    report.name = "top"
    report.title = f"top {n} by spend: {report.title}"
    ranked = report.frame.sort(["spend", dim.column], descending=[True, False], nulls_last=True)
    if ranked.height > n:
        report.notes.append(f"{ranked.height - n} more not shown; the totals row covers all of them")
    report.frame = ranked.head(n).with_row_index("rank", offset=1)
    return report
