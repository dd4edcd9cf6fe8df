"""`seed_litellm`: build the scenario, write it in one transaction, return what it must yield (`LitellmScenario`).

The history is 60 days up to `now`; logs older than 30 days are deleted as LiteLLM's retention job deletes
them (after counters and daily tables took their spend). Events in it (`rows.windows`): the upgrade to a
version with `created_at` on spend logs (20 days ago: every older row has that one instant), two days with
`store_prompts_in_spend_logs` on (request and response bodies), three days (from 10:00 five days ago to 16:00 two days ago) with
`disable_error_logs` on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl
import psycopg

from llmusage.devtools.seed.litellm import accounting, background, load, rows, traffic, verdicts
from llmusage.devtools.seed.litellm.accounting import COUNTER_CAUSES, DAILY_CAUSES, DailyGap
from llmusage.devtools.seed.litellm.cast import CASES, RETENTION_DAYS, horizon
from llmusage.devtools.seed.litellm.roster import build_cast
from llmusage.devtools.seed.litellm.verdicts import Verdict

DEFAULT_LOGS = 4_000
MAX_LOGS = 5_000_000


@dataclass
class LitellmScenario:
    now: datetime  # the as-of instant (naive UTC): verdicts are LiteLLM's decisions for a request now
    verdicts: list[Verdict]
    start: datetime  # first instant of the history
    retention_cutoff: datetime  # logs with an earlier startTime were deleted
    upgraded_at: datetime  # created_at of every row written before the upgrade
    store_prompts: tuple[datetime, datetime]  # bodies were logged for requests that started in here
    disable_error_logs: tuple[datetime, datetime]  # failed requests in here have no spend log
    daily_gaps: list[DailyGap]  # each daily table against the logs, with the causes of the difference
    logs: int  # spend logs in the table (after retention)
    deleted_logs: int  # removed by retention
    unlogged_failures: int
    spend: float  # sum of spend of the logs in the table
    refused: dict[str, int]  # key alias -> requests LiteLLM refused (no log)
    keys: dict[str, str] = field(
        repr=False, default_factory=dict
    )  # alias -> synthetic sk- key (never stored)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cases: dict[str, str] = field(default_factory=lambda: dict(CASES))
    counter_causes: dict[str, str] = field(default_factory=lambda: dict(COUNTER_CAUSES))  # Verdict.gaps keys
    daily_causes: dict[str, str] = field(default_factory=lambda: dict(DAILY_CAUSES))  # DailyGap causes

    def case(self, name: str) -> Verdict:
        """The verdict of the deliberate case `name` (see `cases`)."""
        found = [v for v in self.verdicts if v.case == name]
        if len(found) != 1:
            raise KeyError(name)
        return found[0]

    @property
    def refusing(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.litellm_refuses]


def _as_naive_utc(now: datetime) -> datetime:
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


def seed_litellm(
    conn: psycopg.Connection, *, now: datetime, scale: int = DEFAULT_LOGS, seed: int = 42
) -> LitellmScenario:
    """Fill the (LiteLLM-migrated, empty) database behind `conn` and return the scenario.

    `scale` is about the number of spend logs left in the table (the cases' logs, about 2,600, count towards
    it; the background org makes up the rest, plus a quarter as many older ones that retention deletes).
    Everything is drawn from `seed`: the same seed and `now` give the same rows.
    """
    if not 0 <= scale <= MAX_LOGS:
        raise ValueError(f"scale must be between 0 and {MAX_LOGS:,}, got {scale}")
    started = time.perf_counter()
    now = _as_naive_utc(now)
    rng = np.random.default_rng([seed, 1110])
    cast = build_cast(now, np.random.default_rng([seed, 1]))
    admission = traffic.admit(cast, traffic.plan(cast, np.random.default_rng([seed, 2])))
    cases = traffic.core_frame(admission.rows)
    _, cutoff = horizon(now)
    recent = max(0, scale - cases.filter(pl.col("start") >= cutoff).height)
    bulk = background.generate(cast, recent, recent // 4, cutoff, np.random.default_rng([seed, 3]))
    core = pl.concat([cases, bulk]).filter((pl.col("write") <= now) & (pl.col("start") < now))
    logs = rows.spend_logs(core, cast, rng).with_columns(
        _surviving=pl.col("_logged") & (pl.col("startTime") >= cutoff)
    )
    sums = accounting.entity_sums(accounting.attributed(logs), verdicts.bounds(cast), now)
    verdicts.settle_background_budgets(cast, sums, rng)
    daily = accounting.daily_tables(logs, rng)
    last_active = dict(logs.group_by("api_key").agg(pl.col("_write").max()).iter_rows())

    with conn.transaction():
        load.write_entities(conn, cast, sums, last_active)
        load.write_logs(conn, logs)
        load.write_daily(conn, daily)
    kept = logs.filter("_surviving")
    windows = rows.windows(now)
    return LitellmScenario(
        now=now,
        verdicts=verdicts.verdicts(cast, sums),
        start=cast.start,
        retention_cutoff=cutoff,
        upgraded_at=windows["upgrade"][0],
        store_prompts=windows["store_prompts"],
        disable_error_logs=windows["disable_error_logs"],
        daily_gaps=accounting.daily_gaps(logs, daily),
        logs=kept.height,
        deleted_logs=logs.filter(pl.col("_logged") & ~pl.col("_surviving")).height,
        unlogged_failures=logs.filter(~pl.col("_logged")).height,
        spend=float(kept["spend"].sum()),
        refused=admission.refused,
        keys={k.alias: k.raw for k in cast.keys},
        counts={"LiteLLM_SpendLogs": kept.height, **{t: f.height for t, f in daily.items()}},
        seconds=time.perf_counter() - started,
    )


__all__ = ["DEFAULT_LOGS", "RETENTION_DAYS", "LitellmScenario", "seed_litellm"]
