"""Budget windows: when an entity's metadata has `budget_duration`, its budget applies to the current window only.

Durations are LiteLLM's: `24h`, `30d`, `2w` (fixed-length windows; `s` and `m` units too, in whole
hours) and `1mo`, `3mo` (calendar months). Fixed windows are anchored at `metadata.budget_anchor` (ISO,
UTC) when present, else at the entity's `created_at`, truncated to the hour, so a `30d` budget created
on the 3rd at 10:37 resets at 10:00 on the 3rd, 33rd, ... day. Windows start on the hour; a duration
shorter than an hour, or not a whole number of hours, is refused.
Month windows start at 00:00 UTC on the first of a month; `3mo` windows are calendar quarters counted
from January. Reconciliation and the proxy both call `window_start`, so they agree on the window.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from llmusage.errors import LlmusageError

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|mo)\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EPOCH = datetime(1970, 1, 1)


def parse_duration(value: str) -> tuple[int, str]:
    """`"30d"` -> (30, "d"); a malformed or zero duration is a LlmusageError."""
    match = _DURATION.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise LlmusageError(f"budget_duration {value!r} is not a duration like 30d, 24h or 1mo")
    return int(match.group(1)), match.group(2)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def window_start(duration: str, now: datetime, anchor: datetime | None = None) -> datetime:
    """Start (naive UTC) of the window containing `now` for a budget of `duration`."""
    count, unit = parse_duration(duration)
    now = _naive_utc(now)
    if unit == "mo":
        months = now.year * 12 + now.month - 1
        start = months - months % count
        return datetime(start // 12, start % 12 + 1, 1)
    seconds = count * UNIT_SECONDS[unit]
    if seconds % 3600:
        raise LlmusageError(f"budget_duration {duration!r} is not a whole number of hours")
    length = timedelta(seconds=seconds)
    base = (_naive_utc(anchor) if anchor else _EPOCH).replace(minute=0, second=0, microsecond=0)
    if base > now:
        return base
    return base + ((now - base) // length) * length


def entity_window(
    metadata: dict | None, created_at: datetime | None, now: datetime
) -> tuple[str, datetime] | None:
    """(duration, window start) for an entity whose metadata sets `budget_duration`, else None."""
    if not metadata or not metadata.get("budget_duration"):
        return None
    duration = str(metadata["budget_duration"])
    anchor = created_at
    if metadata.get("budget_anchor"):
        try:
            anchor = datetime.fromisoformat(str(metadata["budget_anchor"]))
        except ValueError as exc:
            raise LlmusageError(
                f"budget_anchor {metadata['budget_anchor']!r} is not an ISO datetime"
            ) from exc
    return duration, window_start(duration, now, anchor)
