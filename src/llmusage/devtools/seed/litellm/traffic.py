"""The cases' traffic: planned demand per key, then admitted one request at a time as LiteLLM admits it.

Demand is a stream of requests per key over a span (this period, the previous one, ...) that would
spend a target amount. Admission replays them in `startTime` order against the counters LiteLLM checks
before a call (`litellm/proxy/auth/auth_checks.py` `common_checks`): key `spend >= max_budget` (the key's
column, else its budget row's: `LiteLLM_VerificationTokenView.__init__` in
`litellm/types/proxy/auth/user_api_key_auth.py`), user `>=` on personal keys only (`_user_max_budget_check`),
team `>` (`team_max_budget_check`), team member `>=` (`_check_team_member_budget`), organization `>=`
(`organization_max_budget_check`, the key's org else its team's), end user `>` (`check_end_user_budget`),
tag `>` (`tag_max_budget_check_for_tags`). A refused request leaves no spend log. Counters move when a
request's spend is written (a few seconds after it ends), so requests already in flight when a budget is
crossed still finish: the overshoot LiteLLM's own issues describe. A counter holds the spend written since
its entity's last reset (`periods.Schedule`). The user counter takes every request of the user, team keys
included (`DBSpendUpdateWriter._update_user_db`; BerriAI/litellm#26239).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from llmusage.devtools.seed.litellm.cast import DEPLOYMENTS, Cast, Key, horizon
from llmusage.devtools.seed.litellm.periods import Schedule, schedule, window_start

CORE_SCHEMA: dict[str, pl.DataType] = {
    "key_ix": pl.Int32(),  # index into cast.keys; -1 the master key, -2 a UI session key
    "dep_ix": pl.Int8(),
    "call_type": pl.String(),
    "start": pl.Datetime("us"),
    "duration_ms": pl.Int32(),
    "ttft_ms": pl.Int32(),
    "prompt": pl.Int64(),
    "completion": pl.Int64(),
    "cached": pl.Int64(),
    "spend": pl.Float64(),
    "status": pl.String(),
    "cache_hit": pl.Boolean(),
    "end_user": pl.String(),
    "extra_tags": pl.List(pl.String()),
    "write": pl.Datetime("us"),
}
MASTER, DASHBOARD = -1, -2


@dataclass
class Demand:
    alias: str
    since: datetime
    until: datetime
    target: float
    end_user: str = ""
    fixed_spend: float | None = None  # every request costs exactly this (exact sums for the at-limit case)


@dataclass
class Admission:
    rows: list[dict[str, object]] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)  # key alias -> requests LiteLLM refused


def spans(cast: Cast, duration: str) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(this period, previous period) of a budget with `duration`, inside margins around the resets."""
    reset_at = schedule(duration, cast.start, cast.now, cast.ticks).budget_reset_at
    assert reset_at is not None
    begin = window_start(duration, reset_at)
    elapsed = cast.now - begin
    current = (
        begin + min(timedelta(minutes=30), elapsed / 3),
        cast.now - min(timedelta(minutes=5), elapsed / 10),
    )
    previous = (window_start(duration, begin) + timedelta(minutes=30), begin - timedelta(minutes=2))
    return current, previous


def demands(cast: Cast) -> list[Demand]:
    """What each case key asked for (before LiteLLM refused anything)."""
    monthly = next(t.duration for t in cast.teams if t.case == "team_over_budget")
    weekly = cast.key("ci-pipeline").budget.duration  # type: ignore[union-attr]
    assert monthly is not None and weekly is not None
    (m0, m1), (p0, p1) = spans(cast, monthly)
    (w0, w1), (wp0, wp1) = spans(cast, weekly)
    legacy = cast.key("legacy-import").created
    return [
        Demand("acme-core-app", p0, p1, 25.0),
        Demand("acme-core-app", m0, m1, 45.0),
        Demand("acme-core-batch", m0, m1, 35.0),
        Demand("search-api", p0, p1, 30.0),
        Demand("search-api", m0, m1, 55.0),
        Demand("support-bot", p0, p1, 20.0),
        Demand("support-bot", m0, m1, 12.0),
        Demand("analytics-etl", p0, p1, 35.0),
        Demand("analytics-etl", m0, m1, 26.0),
        Demand("labs-notebook", m0, m1, 8.0, fixed_spend=0.25),
        Demand("research-sam", m0, m1, 9.0),
        Demand("research-lee", m0, m1, 3.0),
        Demand("ci-pipeline", wp0, wp1, 9.0),
        Demand("ci-pipeline", w0, w1, 8.6),
        Demand("nightly-eval", p0, p1, 18.0),
        Demand("nightly-eval", m0, m1, 4.0),
        Demand("legacy-import", legacy + timedelta(hours=1), cast.now - timedelta(days=1), 21.0),
        Demand("ravi-platform", m0, m1, 9.0),
        Demand("ravi-laptop", m0, m1, 2.0),
        Demand("dana-laptop", m0, m1, 5.0),
        Demand("dana-scripts", m0, m1, 3.0),
        Demand("storefront", m0, m1, 4.5, end_user="customer-4711"),
        Demand("storefront", m0, m1, 2.0, end_user="customer-0815"),
        Demand("batch-runner", p0, p1, 8.0),
        Demand("batch-runner", m0, m1, 14.0),
    ]


def draw_request(
    rng: np.random.Generator, dep_ix: int, fixed_spend: float | None = None
) -> dict[str, object]:
    """One request's usage, outcome and timing (start and write are set by the caller)."""
    dep = DEPLOYMENTS[dep_ix]
    roll = rng.random()
    status, cache_hit = ("failure", False) if roll < 0.03 and fixed_spend is None else ("success", False)
    if status == "success" and roll > 0.97 and fixed_spend is None:
        cache_hit = True
    prompt = int(np.clip(rng.lognormal(np.log(40_000), 0.5), 200, 180_000))
    completion = 0 if dep.kind == "embedding" else int(np.clip(rng.lognormal(np.log(900), 0.7), 5, 16_000))
    cached = int(prompt * rng.uniform(0.2, 0.7)) if rng.random() < 0.25 and dep.kind == "chat" else 0
    spend = prompt * dep.input_cost + completion * dep.output_cost
    if fixed_spend is not None:
        spend = fixed_spend
        prompt = int(fixed_spend * 0.6 / dep.input_cost)
        completion = int(fixed_spend * 0.4 / dep.output_cost) if dep.output_cost else 0
        cached = 0
    duration = (
        int(min(120_000, 400 + completion * rng.uniform(8, 25)))
        if dep.kind == "chat"
        else int(rng.uniform(40, 300))
    )
    if status == "failure":
        spend, completion, cached, duration = 0.0, 0, 0, int(rng.uniform(200, 30_000))
    if cache_hit:  # LiteLLM's response cache: no cost, the original usage replayed (BerriAI/litellm#39057)
        spend, duration = 0.0, int(rng.uniform(4, 40))
    call_type = _call_type(dep_ix, rng)
    return {
        "dep_ix": dep_ix,
        "call_type": call_type,
        "duration_ms": duration,
        "ttft_ms": int(min(duration, rng.uniform(150, 1500))),
        "prompt": prompt,
        "completion": completion,
        "cached": cached,
        "spend": float(spend),
        "status": status,
        "cache_hit": cache_hit,
    }


def _call_type(dep_ix: int, rng: np.random.Generator) -> str:
    dep = DEPLOYMENTS[dep_ix]
    if dep.kind == "embedding":
        return "aembedding"
    if dep.provider in ("anthropic", "bedrock") and rng.random() < 0.3:
        return "anthropic_messages"
    if dep.provider in ("openai", "azure") and rng.random() < 0.1:
        return "aresponses"
    return "acompletion"


CASE_MODELS = (0, 1, 3, 4)


def plan(cast: Cast, rng: np.random.Generator) -> list[dict[str, object]]:
    """Every demanded request, in startTime order."""
    index = {k.alias: i for i, k in enumerate(cast.keys)}
    requests: list[dict[str, object]] = []
    for d in demands(cast):
        drawn, total = [], 0.0
        models = (1,) if d.fixed_spend is not None else CASE_MODELS
        while total < d.target - 1e-12:
            r = draw_request(rng, int(rng.choice(models)), d.fixed_spend)
            total += float(r["spend"])  # type: ignore[arg-type]
            drawn.append(r)
        span = (d.until - d.since).total_seconds()
        for r, offset in zip(drawn, np.sort(rng.uniform(0, span, len(drawn))), strict=True):
            start = d.since + timedelta(seconds=float(offset))
            r.update(key_ix=index[d.alias], start=start, end_user=d.end_user, extra_tags=[])
            r["write"] = start + timedelta(
                milliseconds=int(r["duration_ms"]), seconds=float(rng.uniform(0.3, 9))
            )  # type: ignore[call-overload]
            requests.append(r)
    requests += _operator_requests(cast, rng)
    requests.sort(key=lambda r: r["start"])  # type: ignore[arg-type, return-value]
    return requests


def _operator_requests(cast: Cast, rng: np.random.Generator) -> list[dict[str, object]]:
    """Calls made with the master key and from the admin UI (a session key of team `litellm-dashboard`)."""
    start, _ = horizon(cast.now)
    out = []
    for key_ix, n in ((MASTER, 12), (DASHBOARD, 8)):
        for offset in np.sort(rng.uniform(0, (cast.now - start).total_seconds() - 3600, n)):
            r = draw_request(rng, 2)
            begin = start + timedelta(seconds=float(offset))
            r.update(key_ix=key_ix, start=begin, end_user="", extra_tags=[])
            r["write"] = begin + timedelta(
                milliseconds=int(r["duration_ms"]), seconds=float(rng.uniform(0.3, 9))
            )  # type: ignore[call-overload]
            out.append(r)
    return out


class Counters:
    """LiteLLM's spend counters as its checks read them: written spend since the entity's last reset."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}  # name -> [epoch, value]
        self.schedules: dict[str, Schedule | None] = {}

    def add(self, name: str, schedule: Schedule | None, at: datetime, amount: float) -> None:
        self.schedules.setdefault(name, schedule)
        epoch = schedule.epoch(at) if schedule else 0
        slot = self.values.setdefault(name, [epoch, 0.0])
        if epoch > slot[0]:
            slot[:] = [epoch, 0.0]
        slot[1] += amount

    def read(self, name: str, at: datetime) -> float:
        slot = self.values.get(name)
        schedule = self.schedules.get(name)
        if slot is None or (schedule is not None and schedule.epoch(at) > slot[0]):
            return 0.0
        return slot[1]


Check = tuple[str, "Schedule | None", float, Callable[[float, float], bool]]


def _ge(spend: float, limit: float) -> bool:
    return spend >= limit


def _gt(spend: float, limit: float) -> bool:
    return spend > limit


def path(cast: Cast, key: Key, end_user: str) -> tuple[list[tuple[str, Schedule | None]], list[Check]]:
    """The counters a request of `key` moves, and the budget checks LiteLLM runs before it."""
    moved: list[tuple[str, Schedule | None]] = [(f"key:{key.token}", key.own_schedule)]
    checks: list[Check] = []
    if key.limit is not None:
        checks.append((f"key:{key.token}", key.own_schedule, key.limit, _ge))
    user = cast.user(key.user_id)
    if user is not None:
        moved.append((f"user:{user.user_id}", user.schedule))
        if key.team_id is None and user.max_budget is not None:
            checks.append((f"user:{user.user_id}", user.schedule, user.max_budget, _ge))
    team = cast.team(key.team_id)
    if team is not None:
        moved.append((f"team:{team.team_id}", team.schedule))
        if team.max_budget is not None:
            checks.append((f"team:{team.team_id}", team.schedule, team.max_budget, _gt))
        for m in cast.memberships:
            if (m.user_id, m.team_id) == (key.user_id, team.team_id):
                sched = m.budget.schedule if m.budget else None
                moved.append((f"member:{m.user_id}:{m.team_id}", sched))
                if m.budget and m.budget.max_budget is not None:
                    checks.append((f"member:{m.user_id}:{m.team_id}", sched, m.budget.max_budget, _ge))
    org = cast.org(key.organization_id)
    if org is not None:
        moved.append((f"org:{org.organization_id}", org.budget.schedule))
        if org.budget.max_budget is not None:
            checks.append((f"org:{org.organization_id}", org.budget.schedule, org.budget.max_budget, _ge))
    for e in cast.end_users:
        if e.user_id == end_user and e.budget and e.budget.max_budget is not None:
            moved.append((f"end_user:{e.user_id}", e.budget.schedule))
            checks.append((f"end_user:{e.user_id}", e.budget.schedule, e.budget.max_budget, _gt))
    for t in cast.tags:
        if t.name in key.tags and t.budget and t.budget.max_budget is not None:
            moved.append((f"tag:{t.name}", t.budget.schedule))
            checks.append((f"tag:{t.name}", t.budget.schedule, t.budget.max_budget, _gt))
    return moved, checks


def admit(cast: Cast, requests: list[dict[str, object]]) -> Admission:
    """Replay the requests in order; keep those LiteLLM lets through."""
    counters, result = Counters(), Admission()
    pending: list[tuple[datetime, int, float, list[tuple[str, Schedule | None]]]] = []
    for seq, r in enumerate(requests):
        start = r["start"]
        assert isinstance(start, datetime)
        while pending and pending[0][0] <= start:
            at, _, amount, moved = heapq.heappop(pending)
            for name, sched in moved:
                counters.add(name, sched, at, amount)
        key_ix = int(r["key_ix"])  # type: ignore[call-overload]
        if key_ix < 0:
            result.rows.append(r)
            continue
        key = cast.keys[key_ix]
        moved, checks = path(cast, key, str(r["end_user"]))
        if any(over(counters.read(name, start), limit) for name, _, limit, over in checks):
            result.refused[key.alias] = result.refused.get(key.alias, 0) + 1
            continue
        result.rows.append(r)
        heapq.heappush(pending, (r["write"], seq, float(r["spend"]), moved))  # type: ignore[arg-type]
    return result


def core_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame([{k: r[k] for k in CORE_SCHEMA} for r in rows], schema=CORE_SCHEMA)
