"""Budget periods as LiteLLM 1.110 anchors them, and the resets its budget job applies.

- The next reset (`litellm/litellm_core_utils/duration_parser.py`, `get_next_standardized_reset_time`, with
  `litellm_settings.timezone` UTC and `budget_reset_time` 00:00 as by default): `Nh` lands on the next hour
  that is a multiple of N (`24h` is the next midnight); `1d` the next midnight; `7d` the next Monday 00:00;
  `30d` and `1mo` the 1st of the next month 00:00; any other `Nd` today's midnight plus N days.
- The start of the period ending at a reset (`get_budget_window_start`): `30d` and `Nmo` one calendar month
  (N months) before it, other units the duration before it.
- The reset job (`litellm/proxy/common_utils/reset_budget_job.py`, `ResetBudgetJob`) runs every 597 to 605
  seconds (`PROXY_BUDGET_RESCHEDULER_MIN_TIME`/`_MAX_TIME` in `litellm/constants.py`). A row whose
  `budget_reset_at` has passed gets `spend = 0` and `budget_reset_at = next reset after the job's own
  clock` (`_reset_budget_common`, `compute_budget_reset_at`), so a counter is zeroed a few minutes after
  the boundary, and spend written in between is lost with the old period.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

_DURATION = re.compile(r"^(\d+)(mo|[smhdw])$")
TICK_MIN_S, TICK_MAX_S = 597, 605


def parse(duration: str) -> tuple[int, str]:
    match = _DURATION.match(duration)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"unsupported budget_duration {duration!r}")
    return int(match.group(1)), match.group(2)


def _first_of_next_month(t: datetime) -> datetime:
    return datetime(t.year + (t.month == 12), t.month % 12 + 1, 1)


def _shift_months(t: datetime, months: int) -> datetime:
    index = t.year * 12 + t.month - 1 + months
    year, month = divmod(index, 12)
    last_day = (_first_of_next_month(datetime(year, month + 1, 1)) - timedelta(days=1)).day
    return t.replace(year=year, month=month + 1, day=min(t.day, last_day))


def next_reset(duration: str, t: datetime) -> datetime:
    """When a budget with `duration` next resets, seen at `t` (naive UTC)."""
    value, unit = parse(duration)
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        value, unit = value * 7, "d"
    if unit == "mo" or (unit == "d" and value == 30):
        if value not in (1, 30):
            raise ValueError("LiteLLM resets monthly budgets only by one month")
        first = midnight.replace(day=1)
        return first if first > t else _first_of_next_month(first)
    if unit == "d":
        if value == 1:
            return midnight + timedelta(days=1)
        if value == 7:
            monday = midnight + timedelta(days=(7 - t.weekday()) % 7)
            return monday if monday > t else monday + timedelta(days=7)
        return midnight + timedelta(days=value)
    if unit == "h":
        hour = t.hour + value - (t.hour % value)
        if hour >= 24:
            return midnight + timedelta(days=1, hours=hour % 24)
        return midnight + timedelta(hours=hour)
    if unit == "m":
        minute = t.minute + value - (t.minute % value)
        return t.replace(minute=0, second=0, microsecond=0) + timedelta(minutes=minute)
    return t.replace(microsecond=0) + timedelta(seconds=value - t.second % value)


def window_start(duration: str, reset_at: datetime) -> datetime:
    """The start of the period that ends at `reset_at` (LiteLLM's `get_budget_window_start`)."""
    value, unit = parse(duration)
    if unit == "mo":
        return _shift_months(reset_at, -value)
    if unit == "d" and value == 30:
        return _shift_months(reset_at, -1)
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    return reset_at - timedelta(seconds=value * scale)


def reset_job_ticks(start: datetime, end: datetime, rng: np.random.Generator) -> list[datetime]:
    """The instants the reset job ran between `start` and `end` (one every 597 to 605 s)."""
    n = int((end - start).total_seconds() // TICK_MIN_S) + 2
    gaps = rng.uniform(TICK_MIN_S, TICK_MAX_S, n)
    offsets = rng.uniform(0, TICK_MAX_S) + np.cumsum(gaps) - gaps[0]
    return [start + timedelta(seconds=float(s)) for s in offsets if start + timedelta(seconds=float(s)) < end]


@dataclass
class Schedule:
    """One budget's periods from its creation to `now`: the resets the job applied, the stored reset."""

    duration: str | None
    created: datetime
    resets: list[datetime] = field(default_factory=list)  # the job's instants (counters zeroed)
    budget_reset_at: datetime | None = None  # as stored at `now`

    @property
    def last_reset(self) -> datetime | None:
        return self.resets[-1] if self.resets else None

    @property
    def period_start(self) -> datetime | None:
        """Start of the current period (as LiteLLM computes it from `budget_reset_at`)."""
        if self.duration is None or self.budget_reset_at is None:
            return None
        return window_start(self.duration, self.budget_reset_at)

    def epoch(self, t: datetime) -> int:
        """How many resets happened at or before `t`."""
        return bisect.bisect_right(self.resets, t)


def schedule(duration: str | None, created: datetime, now: datetime, ticks: list[datetime]) -> Schedule:
    """Replay the reset job over [created, now]: each tick past `budget_reset_at` resets and moves it on."""
    plan = Schedule(duration=duration, created=created)
    if duration is None:
        return plan
    reset_at = next_reset(duration, created)
    i = 0
    while True:
        while i < len(ticks) and ticks[i] <= reset_at:
            i += 1
        if i >= len(ticks) or ticks[i] > now:
            break
        plan.resets.append(ticks[i])
        reset_at = next_reset(duration, ticks[i])
    plan.budget_reset_at = reset_at
    return plan
