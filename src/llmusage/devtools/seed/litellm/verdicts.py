"""The expected verdict of every budgeted entity: what LiteLLM decides for its next request at `now`, and the
status llmusage must report.

`litellm_refuses` is the entity's own pre-call check (`litellm/proxy/auth/auth_checks.py`) on its counter:
key `>=` (column, else budget row), user `>=` (checked on personal keys only, against a counter that also
holds the user's team-key spend), team `>`, team member `>=`, organization `>=`, end user `>`, tag `>`.
`expected_status`: `exceeded` when LiteLLM refuses, `warning` at/over `soft_budget` or at/over 80% of
`max_budget`, else `ok`. The ledger is the surviving logs charged to the entity (LiteLLM's attribution:
`api_key`, `user`, `team_id`, `organization_id`, `end_user`, `request_tags`, `user`+`team_id`) with a
`startTime` in the current period; `recorded - ledger` is exactly the sum of `gaps` (retention, the reset
job's lag, requests in flight at a reset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from llmusage.devtools.seed.litellm.accounting import Sums
from llmusage.devtools.seed.litellm.cast import Cast
from llmusage.devtools.seed.litellm.periods import Schedule

WARNING_SHARE = 0.8
STRICT = {"team", "end_user", "tag"}  # LiteLLM refuses only when spend > max_budget


@dataclass(frozen=True)
class Verdict:
    kind: str  # key, user, team, organization, end_user, tag, team_member
    id: str  # token, user_id, team_id, organization_id, end user id, tag name, "user_id:team_id"
    name: str  # alias, email or tag
    case: str | None  # the deliberate case it illustrates (`cast.CASES`), None for background entities
    max_budget: float | None
    soft_budget: float | None
    duration: str | None  # None: a lifetime budget
    source: str  # "column" or "budget_row" (LiteLLM_BudgetTable via budget_id)
    period_start: datetime | None
    period_end: datetime | None  # budget_reset_at: the next reset
    ledger_spend: float
    recorded_spend: float
    lifetime_spend: float
    litellm_refuses: bool
    expected_status: str  # ok, warning, exceeded
    comparison: str  # ">=" or ">"
    gaps: dict[str, float] = field(default_factory=dict)
    notes: str = ""


def status(refuses: bool, recorded: float, max_budget: float | None, soft: float | None) -> str:
    if refuses:
        return "exceeded"
    if soft is not None and recorded >= soft:
        return "warning"
    if max_budget is not None and recorded >= WARNING_SHARE * max_budget:
        return "warning"
    return "ok"


@dataclass
class Budgeted:
    kind: str
    id: str
    name: str
    case: str | None
    max_budget: float | None
    soft_budget: float | None
    source: str
    schedule: Schedule | None


def budgeted(cast: Cast) -> list[Budgeted]:
    """Every entity with a limit, with where the limit lives and its period schedule."""
    out: list[Budgeted] = []
    for k in cast.keys:
        if k.limit is not None:
            source = "column" if k.max_budget is not None else "budget_row"
            soft = k.budget.soft_budget if k.budget else None
            out.append(Budgeted("key", k.token, k.alias, k.case, k.limit, soft, source, k.own_schedule))
    for u in cast.users:
        if u.max_budget is not None:
            out.append(Budgeted("user", u.user_id, u.email, u.case, u.max_budget, None, "column", u.schedule))
    for t in cast.teams:
        if t.max_budget is not None:
            out.append(
                Budgeted(
                    "team", t.team_id, t.alias, t.case, t.max_budget, t.soft_budget, "column", t.schedule
                )
            )
    for o in cast.orgs:
        b = o.budget
        out.append(Budgeted("organization", o.organization_id, o.alias, o.case, b.max_budget, b.soft_budget,
                            "budget_row", b.schedule))  # fmt: skip
    for e in cast.end_users:
        if e.budget is not None:
            out.append(Budgeted("end_user", e.user_id, e.alias or e.user_id, e.case, e.budget.max_budget,
                                e.budget.soft_budget, "budget_row", e.budget.schedule))  # fmt: skip
    for t in cast.tags:
        if t.budget is not None:
            out.append(Budgeted("tag", t.name, t.name, t.case, t.budget.max_budget, t.budget.soft_budget,
                                "budget_row", t.budget.schedule))  # fmt: skip
    for m in cast.memberships:
        if m.budget is not None:
            user, team = cast.user(m.user_id), cast.team(m.team_id)
            name = f"{user.email if user else m.user_id} in {team.alias if team else m.team_id}"
            out.append(Budgeted("team_member", f"{m.user_id}:{m.team_id}", name, m.case, m.budget.max_budget,
                                m.budget.soft_budget, "budget_row", m.budget.schedule))  # fmt: skip
    return out


def bounds(cast: Cast) -> pl.DataFrame:
    """kind, id, last_reset, period_start for every entity that has a counter."""
    rows: list[tuple[str, str, Schedule | None]] = []
    rows += [("key", k.token, k.own_schedule) for k in cast.keys]
    rows += [("user", u.user_id, u.schedule) for u in cast.users]
    rows += [("team", t.team_id, t.schedule) for t in cast.teams]
    rows += [("organization", o.organization_id, o.budget.schedule) for o in cast.orgs]
    rows += [("end_user", e.user_id, e.budget.schedule if e.budget else None) for e in cast.end_users]
    rows += [("tag", t.name, t.budget.schedule if t.budget else None) for t in cast.tags]
    rows += [("team_member", f"{m.user_id}:{m.team_id}", m.budget.schedule if m.budget else None)
             for m in cast.memberships]  # fmt: skip
    return pl.DataFrame(
        {
            "kind": [r[0] for r in rows],
            "id": [r[1] for r in rows],
            "last_reset": [r[2].last_reset if r[2] else None for r in rows],
            "period_start": [r[2].period_start if r[2] else None for r in rows],
        },
        schema={
            "kind": pl.String,
            "id": pl.String,
            "last_reset": pl.Datetime("us"),
            "period_start": pl.Datetime("us"),
        },
    )


def settle_background_budgets(
    cast: Cast, sums: dict[tuple[str, str], Sums], rng: np.random.Generator
) -> None:
    """Give the background org's entities budgets above what they spent (LiteLLM never refused them)."""
    org = next(o for o in cast.orgs if o.alias == "initech")

    def spent(kind: str, id_: str) -> float:
        return max(sums.get((kind, id_), Sums()).recorded, 0.5)

    org.budget.max_budget = round(spent("organization", org.organization_id) * 2.0, 2)
    shares = {
        "initech-data": (1.6, 0.9),
        "initech-web": (2.5, None),
        "initech-ml": (3.0, None),
        "initech-ops": (1.25, None),
    }
    for t in cast.teams:
        if t.alias in shares:
            factor, soft = shares[t.alias]
            t.max_budget = round(spent("team", t.team_id) * factor, 2)
            t.soft_budget = round(spent("team", t.team_id) * soft, 2) if soft else None
    for k in cast.keys:
        if k.organization_id == org.organization_id and k.duration:
            k.max_budget = round(spent("key", k.token) * float(rng.uniform(1.5, 3.0)), 2)
    for u in cast.users:
        if u.organization_id == org.organization_id and u.duration:
            u.max_budget = round(spent("user", u.user_id) * float(rng.uniform(2.0, 4.0)), 2)


NOTES = {
    "user_team_keys_over": "LiteLLM adds team-key spend to the user's counter (_update_user_db) and checks that "
    "counter on personal keys: his personal keys are refused although they spent less than max_budget "
    "(BerriAI/litellm#26239)",
    "team_at_limit": "spend == max_budget exactly: team_max_budget_check refuses only when spend > max_budget",
    "key_retention": "lifetime budget; retention deleted the older logs: recorded - ledger is retention, not drift",
    "key_reset_this_period": "total_spend (lifetime) is above max_budget; the reset job zeroed spend this period",
    "key_budget_row": "max_budget NULL on the key: LiteLLM reads the budget row (budget_id), reset by its cascade",
}


def verdicts(cast: Cast, sums: dict[tuple[str, str], Sums]) -> list[Verdict]:
    out = []
    for b in budgeted(cast):
        s = sums.get((b.kind, b.id), Sums())
        strict = b.kind in STRICT
        refuses = b.max_budget is not None and (
            s.recorded > b.max_budget if strict else s.recorded >= b.max_budget
        )
        sched = b.schedule
        out.append(
            Verdict(
                kind=b.kind,
                id=b.id,
                name=b.name,
                case=b.case,
                max_budget=b.max_budget,
                soft_budget=b.soft_budget,
                duration=sched.duration if sched else None,
                source=b.source,
                period_start=sched.period_start if sched else None,
                period_end=sched.budget_reset_at if sched else None,
                ledger_spend=s.ledger,
                recorded_spend=s.recorded,
                lifetime_spend=s.lifetime,
                litellm_refuses=refuses,
                expected_status=status(refuses, s.recorded, b.max_budget, b.soft_budget),
                comparison=">" if strict else ">=",
                gaps=dict(s.gaps),
                notes=NOTES.get(b.case or "", ""),
            )
        )
    return out
