"""The scenario's cast, built once per seed: the named cases (see `cast.CASES`) and the background org.

Each budget-bearing entity gets its `Schedule` (the resets LiteLLM's job applied up to `now`). Budgets of
the background are placeholders here; `accounting.settle_background_budgets` sets them from what it spent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from llmusage.devtools.seed.litellm.cast import (
    Budget,
    Cast,
    EndUser,
    Ids,
    Key,
    Membership,
    Org,
    Tag,
    Team,
    User,
    horizon,
    pick_duration,
    token_of,
)
from llmusage.devtools.seed.litellm.periods import reset_job_ticks, schedule

BACKGROUND_TEAMS = (
    ("initech-data", "30d"),
    ("initech-web", "7d"),
    ("initech-ml", "24h"),
    ("initech-ops", None),
)
BACKGROUND_USERS = 10
BACKGROUND_END_USERS = 40


def build_cast(now: datetime, rng: np.random.Generator) -> Cast:
    start, _ = horizon(now)
    cast = Cast(now=now, start=start, ticks=reset_job_ticks(start, now + timedelta(hours=1), rng))
    ids = Ids(rng)
    monthly = pick_duration(now, "30d", cast.ticks)
    weekly = pick_duration(now, "7d", cast.ticks)
    day0 = start + timedelta(hours=2)

    def budget(max_budget: float | None, duration: str | None, soft: float | None = None) -> Budget:
        return Budget(ids.uuid(), max_budget, soft, duration, day0)

    acme = Org(ids.uuid(), "acme-research", budget(60.0, monthly), day0, "org_over_budget")
    globex = Org(ids.uuid(), "globex", budget(1000.0, monthly), day0, "org_within_budget")
    initech = Org(ids.uuid(), "initech", budget(None, monthly), day0)
    cast.orgs = [acme, globex, initech]

    def team(
        alias: str, org: Org, max_b: float | None = None, soft: float | None = None, case: str | None = None
    ):
        t = Team(
            ids.uuid(), alias, org.organization_id, max_b, soft, monthly if max_b else None, day0, case=case
        )
        cast.teams.append(t)
        return t

    acme_core = team("acme-core", acme)
    search = team("globex-search", globex, 40.0, case="team_over_budget")
    support = team("globex-support", globex, 50.0, 30.0, "team_under_soft_budget")
    analytics = team("globex-analytics", globex, 50.0, 20.0, "team_over_soft_budget")
    labs = team("globex-labs", globex, 8.0, case="team_at_limit")
    research = team("globex-research", globex)
    platform = team("globex-platform", globex)

    def user(name: str, org: Org | None, max_b: float | None = None, case: str | None = None) -> User:
        u = User(ids.uuid(), f"{name}@example.com", org.organization_id if org else None, max_b, None, day0)
        u.duration, u.case = (monthly if max_b else None), case
        cast.users.append(u)
        return u

    alex, kim, noor, omar, priya = (
        user(n, globex if n != "alex" else acme) for n in ("alex", "kim", "noor", "omar", "priya")
    )
    sam, lee = user("sam", globex), user("lee", globex)
    dana = user("dana", None, 5.0, "user_personal_over")
    ravi = user("ravi", globex, 5.0, "user_team_keys_over")

    def key(alias: str, owner: User, on: Team | None, **extra: object) -> Key:
        raw = ids.sk()
        org = cast.org(on.organization_id) if on else None
        k = Key(token_of(raw), raw, alias, owner.user_id, on.team_id if on else None,
                org.organization_id if org else None, day0, **extra)  # type: ignore[arg-type]  # fmt: skip
        cast.keys.append(k)
        if on and owner.user_id not in on.members:
            on.members.append(owner.user_id)
        return k

    key("acme-core-app", alex, acme_core)
    key("acme-core-batch", alex, acme_core)
    key("search-api", kim, search)
    key("support-bot", noor, support, tags=["customer-support", "env:prod"])
    key("analytics-etl", omar, analytics, tags=["env:prod"])
    key("labs-notebook", priya, labs)
    key("research-sam", sam, research)
    key("research-lee", lee, research)
    key("ci-pipeline", kim, platform, budget=budget(10.0, weekly), case="key_budget_row")
    key("nightly-eval", omar, platform, max_budget=12.0, duration=monthly, case="key_reset_this_period")
    legacy = key("legacy-import", priya, platform, max_budget=20.0, case="key_retention")
    legacy.created = now - timedelta(days=55)
    key("ravi-platform", ravi, platform)
    key("ravi-laptop", ravi, None)
    key("dana-laptop", dana, None)
    key("dana-scripts", dana, None)
    key("storefront", noor, platform)
    key("batch-runner", kim, platform, tags=["batch-jobs"])

    cast.end_users = [
        EndUser("customer-4711", "Fabrikam GmbH", budget(3.0, monthly), "end_user_over_budget"),
        EndUser("customer-0815", "Contoso Ltd", budget(25.0, monthly), "end_user_within_budget"),
    ]
    cast.tags = [
        Tag("batch-jobs", "offline batch work", budget(10.0, monthly), "tag_over_budget"),
        Tag("customer-support", "support assistant traffic", budget(100.0, monthly), "tag_within_budget"),
    ]
    for t in cast.teams:
        for member in t.members:
            cast.memberships.append(Membership(member, t.team_id))
    for m in cast.memberships:
        if (m.user_id, m.team_id) == (sam.user_id, research.team_id):
            m.budget, m.case = budget(6.0, monthly), "member_over_budget"
        if (m.user_id, m.team_id) == (lee.user_id, research.team_id):
            m.budget, m.case = budget(10.0, monthly), "member_within_budget"

    _background(cast, initech, ids, rng, day0)
    cast.raw_master_key = ids.sk()
    cast.dashboard_token = token_of(ids.sk())
    for u in cast.users:
        u.teams = [t.team_id for t in cast.teams if u.user_id in t.members]
    _schedules(cast)
    return cast


def _background(cast: Cast, org: Org, ids: Ids, rng: np.random.Generator, day0: datetime) -> None:
    """initech: four teams (monthly, weekly, daily and lifetime budgets), ten users, twenty keys."""
    users = []
    for i in range(BACKGROUND_USERS):
        u = User(ids.uuid(), f"initech.user{i:02d}@example.com", org.organization_id, None, None, day0)
        users.append(u)
    cast.users.extend(users)
    for n, (alias, duration) in enumerate(BACKGROUND_TEAMS):
        t = Team(ids.uuid(), alias, org.organization_id, None, None, duration, day0)
        cast.teams.append(t)
        for j in range(4):
            owner = users[(n * 3 + j) % len(users)]
            env = "env:prod" if j < 3 else "env:staging"
            k = Key(token_of(raw := ids.sk()), raw, f"{alias}-{j}", owner.user_id, t.team_id, org.organization_id,
                    day0, tags=[env, f"app:{alias.removeprefix('initech-')}"])  # fmt: skip
            k.duration = "30d" if j == 0 else None  # a key budget, set from its spend afterwards
            cast.keys.append(k)
            if owner.user_id not in t.members:
                t.members.append(owner.user_id)
    for i in range(4):
        owner = users[i * 2]
        owner.duration = "30d" if i % 2 == 0 else None
        cast.keys.append(
            Key(token_of(raw := ids.sk()), raw, f"personal-{i}", owner.user_id, None, None, day0)
        )
    for t in cast.teams[-len(BACKGROUND_TEAMS) :]:
        cast.memberships.extend(Membership(member, t.team_id) for member in t.members)
    cast.end_users.extend(EndUser(f"cus_{rng.integers(10**9, 10**10)}") for _ in range(BACKGROUND_END_USERS))


def _schedules(cast: Cast) -> None:
    now, ticks = cast.now, cast.ticks
    for b in cast.budgets():
        b.schedule = schedule(b.duration, b.created, now, ticks)
    for t in cast.teams:
        t.schedule = schedule(t.duration, t.created, now, ticks)
    for u in cast.users:
        u.schedule = schedule(u.duration, u.created, now, ticks)
    for k in cast.keys:
        k.schedule = schedule(k.duration, k.created, now, ticks)


def background_keys(cast: Cast) -> list[int]:
    """Indexes (into `cast.keys`) of the background org's keys."""
    org = next(o for o in cast.orgs if o.alias == "initech")
    bg_users = {u.user_id for u in cast.users if u.organization_id == org.organization_id}
    return [
        i
        for i, k in enumerate(cast.keys)
        if k.organization_id == org.organization_id or k.user_id in bg_users
    ]
