"""Who is in the LiteLLM scenario: organizations, teams, users, keys, end users, tags, memberships, models.

Two parts. The **cases** are a small, fixed cast built to land on stated budget verdicts (each named in
`CASES` below); their traffic is planned in `traffic.py` and admitted request by request as LiteLLM would.
The **background** (organization `initech`) carries the bulk of the traffic that `scale` asks for; its
budgets are set after the fact, well above what it spent, so LiteLLM never refused any of it.

Ids look like LiteLLM's (uuid4 team, user, organization and budget ids; `token` is the SHA-256 hex of an
`sk-` key, `key_name` its `sk-...abcd` abbreviation: `litellm/proxy/utils.py` `hash_token`,
`abbreviate_api_key`) and are drawn from the seeded generator, so the same seed gives the same ids.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from llmusage.devtools.seed.litellm.periods import Schedule, schedule, window_start

HISTORY_DAYS = 60
RETENTION_DAYS = 30  # general_settings.maximum_spend_logs_retention_period: "30d"
ADMIN_USER = "default_user_id"  # litellm_proxy_admin_name: what master-key calls log as `user`
MASTER_KEY_ALIAS = "litellm_proxy_master_key"  # LITELLM_PROXY_MASTER_KEY_ALIAS in litellm/constants.py
DASHBOARD_TEAM = "litellm-dashboard"  # team id that UI session keys log (no team row behind it)

CASES: dict[str, str] = {
    "org_over_budget": "organization acme-research: its BudgetTable budget reached this period",
    "org_within_budget": "organization globex: well within its BudgetTable budget",
    "team_over_budget": "team globex-search: over max_budget this period",
    "team_under_soft_budget": "team globex-support: below soft_budget and below 80% of max_budget",
    "team_over_soft_budget": "team globex-analytics: at/over soft_budget, below max_budget",
    "team_at_limit": "team globex-labs: spend exactly max_budget; LiteLLM's team check is strict '>'",
    "key_budget_row": "key ci-pipeline: budget from a LiteLLM_BudgetTable row (budget_id), 7d, at 86%",
    "key_reset_this_period": "key nightly-eval: lifetime total_spend > max_budget, this period < max_budget",
    "key_retention": "key legacy-import: lifetime budget reached; most of its logs deleted by retention",
    "user_personal_over": "user dana: her personal keys exceed her max_budget",
    "user_team_keys_over": "user ravi: team keys spent past his max_budget, personal keys did not",
    "member_over_budget": "membership of sam in globex-research: over its BudgetTable budget",
    "member_within_budget": "membership of lee in globex-research: within its BudgetTable budget",
    "end_user_over_budget": "end user customer-4711: over its BudgetTable budget",
    "end_user_within_budget": "end user customer-0815: within its BudgetTable budget",
    "tag_over_budget": "tag batch-jobs: over its BudgetTable budget",
    "tag_within_budget": "tag customer-support: within its BudgetTable budget",
}


@dataclass
class Budget:
    """A `LiteLLM_BudgetTable` row."""

    budget_id: str
    max_budget: float | None
    soft_budget: float | None = None
    duration: str | None = None
    created: datetime = datetime(2000, 1, 1)
    schedule: Schedule | None = None


@dataclass
class Org:
    organization_id: str
    alias: str
    budget: Budget
    created: datetime
    case: str | None = None


@dataclass
class Team:
    team_id: str
    alias: str
    organization_id: str | None
    max_budget: float | None
    soft_budget: float | None
    duration: str | None
    created: datetime
    members: list[str] = field(default_factory=list)
    case: str | None = None
    schedule: Schedule | None = None


@dataclass
class User:
    user_id: str
    email: str
    organization_id: str | None
    max_budget: float | None
    duration: str | None
    created: datetime
    role: str = "internal_user"
    teams: list[str] = field(default_factory=list)
    case: str | None = None
    schedule: Schedule | None = None


@dataclass
class Key:
    token: str
    raw: str
    alias: str
    user_id: str | None
    team_id: str | None
    organization_id: str | None  # the org a request is charged to (the key's, else its team's)
    created: datetime
    max_budget: float | None = None
    duration: str | None = None
    budget: Budget | None = None
    tags: list[str] = field(default_factory=list)  # key metadata.tags, merged into every request's tags
    case: str | None = None
    schedule: Schedule | None = None

    @property
    def key_name(self) -> str:
        return f"sk-...{self.raw[-4:]}"

    @property
    def limit(self) -> float | None:
        """The key's max_budget as LiteLLM reads it: its column, else its budget row's."""
        return (
            self.max_budget
            if self.max_budget is not None
            else (self.budget.max_budget if self.budget else None)
        )

    @property
    def own_schedule(self) -> Schedule | None:
        return self.schedule if self.duration else (self.budget.schedule if self.budget else None)


@dataclass
class EndUser:
    user_id: str
    alias: str | None = None
    budget: Budget | None = None
    case: str | None = None


@dataclass
class Tag:
    name: str
    description: str
    budget: Budget | None = None
    case: str | None = None


@dataclass
class Membership:
    user_id: str
    team_id: str
    budget: Budget | None = None
    case: str | None = None


@dataclass(frozen=True)
class Deployment:
    model_group: str
    model: str  # litellm_params.model, as the spend log's `model` column holds it
    provider: str
    api_base: str
    input_cost: float
    output_cost: float
    kind: str = "chat"  # or "embedding"

    @property
    def model_id(self) -> str:
        return hashlib.sha256(f"{self.model}|{self.api_base}".encode()).hexdigest()


DEPLOYMENTS: tuple[Deployment, ...] = (
    Deployment("gpt-4o", "azure/gpt-4o-eu", "azure", "https://acme-eu.openai.azure.com/", 2.5e-6, 10e-6),
    Deployment("gpt-4o", "openai/gpt-4o", "openai", "https://api.openai.com/v1", 2.5e-6, 10e-6),
    Deployment("gpt-4o-mini", "openai/gpt-4o-mini", "openai", "https://api.openai.com/v1", 0.15e-6, 0.6e-6),
    Deployment(
        "claude-sonnet-4",
        "anthropic/claude-sonnet-4-20250514",
        "anthropic",
        "https://api.anthropic.com",
        3e-6,
        15e-6,
    ),
    Deployment(
        "claude-sonnet-4",
        "bedrock/eu.anthropic.claude-sonnet-4-20250514-v1:0",
        "bedrock",
        "https://bedrock-runtime.eu-central-1.amazonaws.com",
        3e-6,
        15e-6,
    ),
    Deployment(
        "gemini-2.0-flash",
        "gemini/gemini-2.0-flash",
        "gemini",
        "https://generativelanguage.googleapis.com",
        0.1e-6,
        0.4e-6,
    ),
    Deployment(
        "text-embedding-3-small",
        "openai/text-embedding-3-small",
        "openai",
        "https://api.openai.com/v1",
        0.02e-6,
        0.0,
        "embedding",
    ),
)


@dataclass
class Cast:
    now: datetime
    start: datetime
    ticks: list[datetime]
    orgs: list[Org] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    end_users: list[EndUser] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    raw_master_key: str = ""
    dashboard_token: str = ""

    def team(self, team_id: str | None) -> Team | None:
        return next((t for t in self.teams if t.team_id == team_id), None)

    def user(self, user_id: str | None) -> User | None:
        return next((u for u in self.users if u.user_id == user_id), None)

    def org(self, organization_id: str | None) -> Org | None:
        return next((o for o in self.orgs if o.organization_id == organization_id), None)

    def key(self, alias: str) -> Key:
        return next(k for k in self.keys if k.alias == alias)

    def budgets(self) -> list[Budget]:
        rows = [o.budget for o in self.orgs]
        rows += [k.budget for k in self.keys if k.budget]
        rows += [e.budget for e in self.end_users if e.budget]
        rows += [t.budget for t in self.tags if t.budget]
        rows += [m.budget for m in self.memberships if m.budget]
        return rows


class Ids:
    """Deterministic LiteLLM-looking ids from one generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def uuid(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))

    def sk(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return "sk-" + "".join(alphabet[i] for i in self.rng.integers(0, 64, 22))


def token_of(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def pick_duration(now: datetime, prefer: str, ticks: list[datetime]) -> str:
    """`prefer` unless its current period began under 2 h ago (then the reset job may not even have run):
    shorter periods in turn, down to `1h`."""
    for duration in (prefer, "7d", "24h", "6h", "1h"):
        reset_at = schedule(duration, now - timedelta(days=HISTORY_DAYS), now, ticks).budget_reset_at
        assert reset_at is not None
        if now - window_start(duration, reset_at) >= timedelta(hours=2) or duration == "1h":
            return duration
    return "1h"


def horizon(now: datetime) -> tuple[datetime, datetime]:
    """The first instant of history and the retention cutoff (logs with an earlier startTime are deleted)."""
    return now - timedelta(days=HISTORY_DAYS), now - timedelta(days=RETENTION_DAYS)
