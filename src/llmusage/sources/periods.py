"""Budget periods as each flavour defines them: when the current period of an entity's budget started.

- **llmusage flavour**: `metadata.budget_duration`, anchored as `llmusage.budgets.window` says.
- **LiteLLM flavour**: the `budget_duration` and `budget_reset_at` columns (of the entity, or of its
  `LiteLLM_BudgetTable` row). LiteLLM's reset job (`proxy/common_utils/reset_budget_job.py`) zeroes
  `spend` when `budget_reset_at` has passed and moves `budget_reset_at` one duration forward, so the period
  LiteLLM's counter covers is the one ending at `budget_reset_at`: it started one duration before it. Until
  the job runs, a passed `budget_reset_at` still closes the same period (LiteLLM still refuses on the old
  counter), so the start does not depend on the clock. As LiteLLM's own `get_budget_window_start`
(`litellm/litellm_core_utils/duration_parser.py`) computes it, `30d` and `Nmo` periods are calendar months
(LiteLLM resets them on the 1st), other durations are their length. An entity with a duration but no `budget_reset_at`
  yet (never reset) counts from its creation, hour-anchored like the llmusage flavour.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from llmusage.budgets.window import UNIT_SECONDS, entity_window, parse_duration, window_start

RESET_JOB_INTERVAL = timedelta(seconds=605)
"""The longest gap between two runs of LiteLLM's reset job (`ResetBudgetJob`, scheduled every 597 to 605 s):
a counter is zeroed at most this long after its period began."""


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the day clamped to the month's length)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    following = datetime(year + (month == 12), month % 12 + 1, 1)
    last_day = (following - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def litellm_period_start(
    duration: str, reset_at: datetime | None, created_at: datetime | None, as_of: datetime
) -> datetime:
    """Start (naive UTC) of the period a LiteLLM counter with this duration and next reset covers."""
    count, unit = parse_duration(duration)
    if reset_at is None:  # never reset: from creation, hour-anchored; a sub-hour duration starts now
        if unit != "mo" and count * UNIT_SECONDS[unit] % 3600:
            return as_of
        return window_start(duration, as_of, created_at)
    if unit == "mo":
        return months_before(reset_at, count)
    if (count, unit) == (30, "d"):  # LiteLLM resets a 30d budget on the 1st: one calendar month
        return months_before(reset_at, 1)
    return reset_at - timedelta(seconds=count * UNIT_SECONDS[unit])


def period(row: dict, litellm: bool, as_of: datetime) -> tuple[str, datetime] | None:
    """(duration, period start) of an entity row read by reconciliation, or None for a lifetime budget."""
    if not litellm:
        return entity_window(row.get("metadata"), row.get("created_at"), as_of)
    duration = row.get("budget_duration")
    if not duration:
        return None
    return str(duration), litellm_period_start(
        str(duration), row.get("budget_reset_at"), row.get("created_at"), as_of
    )
