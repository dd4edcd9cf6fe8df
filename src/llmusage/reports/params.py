"""Parsing what a user types into a report: dimension lists, `--where` filters, dates and months.

Nothing typed by a user ever reaches SQL text. Dimension names and filter fields are looked up in the
whitelist `REPORT_DIMENSIONS` (anything else is a LlmusageError naming the allowed ones); filter values are
data, compared in polars or bound as parameters. Grouping happens over columns computed by fixed SQL files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from llmusage.errors import LlmusageError

# what --by groups by and --where filters on: dimension -> its column of the enriched spend lines
# (sql/warehouse/60_spend_lines.sql). `model` is the deployment the log names, `model_group` the public
# model name clients ask for (the same on the llmusage flavour); `end_user` the caller's own user (the
# OpenAI `user` field); `status` the outcome (success, failure, ...); `call_type` the route.
REPORT_DIMENSIONS: dict[str, str] = {
    "day": "day",
    "week": "week",
    "month": "month",
    "org": "org",
    "team": "team",
    "user": "user",
    "key": "key",
    "end_user": "end_user",
    "model": "model",
    "model_group": "model_group",
    "provider": "provider",
    "call_type": "call_type",
    "status": "status",
    "tag": "tag",
}
TIME_DIMENSIONS = ("day", "week", "month")
TOP_DIMENSIONS = ("key", "user", "team", "end_user")  # what `report top --by` ranks
# `tag:NAME` groups by the value of the request's `NAME:value` tag (one per request, no overlap)
_TAG_KEY = re.compile(r"^tag:([a-z][a-z0-9_-]{0,39})$")
_FILTER = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_:-]*)\s*(!=|=)\s*(.*?)\s*$", re.DOTALL)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Dimension:
    name: str  # as typed: "team", "tag", "tag:env"
    column: str  # output column name
    tag_key: str | None = None  # for tag:NAME


@dataclass(frozen=True)
class Filter:
    dimension: str  # a key of REPORT_DIMENSIONS (not a time dimension)
    values: tuple[str, ...]
    negate: bool = False


def allowed_dimensions() -> str:
    """What --by accepts, for messages and help: `day, week, ..., tag, tag:NAME`."""
    return ", ".join(REPORT_DIMENSIONS) + ", tag:NAME"


def parse_dimension(text: str) -> Dimension:
    name = text.strip().lower()
    if name in REPORT_DIMENSIONS:
        return Dimension(name, REPORT_DIMENSIONS[name])
    match = _TAG_KEY.match(name)
    if match:
        return Dimension(name, f"tag_{match.group(1).replace('-', '_')}", match.group(1))
    raise LlmusageError(f"unknown dimension {text.strip()!r} (use one of: {allowed_dimensions()})")


def parse_dimensions(text: str) -> list[Dimension]:
    """`"team,model"` -> [team, model]; duplicates and unknown names are errors."""
    parts = [p for p in (text or "").split(",") if p.strip()]
    if not parts:
        raise LlmusageError(f"--by needs at least one dimension ({allowed_dimensions()})")
    dims = [parse_dimension(p) for p in parts]
    names = [d.name for d in dims]
    if len(set(names)) != len(names):
        raise LlmusageError(f"--by names a dimension twice: {text!r}")
    if sum(d.name == "tag" for d in dims) and any(d.tag_key for d in dims):
        raise LlmusageError("--by: give either tag or tag:NAME, not both")
    return dims


def parse_filter(text: str) -> Filter:
    """`team=search`, `model!=gpt-4o`, `tag=env:prod`, `team=a,b` (any of a, b)."""
    match = _FILTER.match(text)
    if not match:
        raise LlmusageError(f"--where {text!r} is not DIMENSION=VALUE or DIMENSION!=VALUE")
    field, op, raw = match.groups()
    field = field.lower()
    if field not in REPORT_DIMENSIONS or field in TIME_DIMENSIONS:
        allowed = ", ".join(d for d in REPORT_DIMENSIONS if d not in TIME_DIMENSIONS)
        hint = " (use --from/--to for dates)" if field in TIME_DIMENSIONS else ""
        raise LlmusageError(f"--where: unknown field {field!r}{hint} (use one of: {allowed})")
    values = tuple(v.strip() for v in raw.split(",") if v.strip())
    if not values:
        raise LlmusageError(f"--where {text!r} has no value")
    return Filter(field, values, negate=op == "!=")


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise LlmusageError(f"{option} must be a date (YYYY-MM-DD), got {value!r}") from None


def parse_range(first: str | None, last: str | None) -> tuple[date | None, date | None]:
    start, end = parse_day(first, "--from"), parse_day(last, "--to")
    if start and end and end < start:
        raise LlmusageError(f"--to ({end}) is before --from ({start})")
    return start, end


def parse_month(value: str) -> tuple[date, date]:
    """`"2026-11"` -> (first day, first day of the next month)."""
    match = _MONTH.match(value.strip() if value else "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise LlmusageError(f"--month must be YYYY-MM, got {value!r}")
    year, month = int(match.group(1)), int(match.group(2))
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    return start, end


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())
