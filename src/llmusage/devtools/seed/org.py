"""The synthetic organization: organizations, teams, users, keys and priced models, from one seed.

Everything here is small (hundreds of rows) and built with a seeded `numpy` generator, so the same seed
gives the same organization. Keys are `sk-` strings derived from the seed; only their SHA-256 digests
are ever written to the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np


@dataclass(frozen=True)
class Model:
    model_name: str
    provider: str
    upstream: str
    api_base: str
    env_var: str
    input_cost: float
    output_cost: float
    kind: str = "chat"  # or "embedding"

    @property
    def model_id(self) -> str:
        return "model-" + hashlib.sha256(self.model_name.encode()).hexdigest()[:12]


# Per-token list prices in USD, as providers publish them (per million tokens / 1e6).
CATALOG: tuple[Model, ...] = (
    Model("gpt-4o", "openai", "gpt-4o", "https://api.openai.com/v1", "OPENAI_API_KEY", 2.5e-6, 10e-6),
    Model(
        "gpt-4o-mini", "openai", "gpt-4o-mini", "https://api.openai.com/v1", "OPENAI_API_KEY", 0.15e-6, 0.6e-6
    ),
    Model(
        "claude-sonnet-4",
        "anthropic",
        "claude-sonnet-4-20250514",
        "https://api.anthropic.com/v1",
        "ANTHROPIC_API_KEY",
        3e-6,
        15e-6,
    ),
    Model(
        "claude-haiku-3.5",
        "anthropic",
        "claude-3-5-haiku-20241022",
        "https://api.anthropic.com/v1",
        "ANTHROPIC_API_KEY",
        0.8e-6,
        4e-6,
    ),
    Model(
        "mistral-large",
        "mistral",
        "mistral-large-latest",
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        2e-6,
        6e-6,
    ),
    Model(
        "gemini-2.0-flash",
        "gemini",
        "gemini-2.0-flash",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        "GEMINI_API_KEY",
        0.1e-6,
        0.4e-6,
    ),
    Model("o3-mini", "openai", "o3-mini", "https://api.openai.com/v1", "OPENAI_API_KEY", 1.1e-6, 4.4e-6),
    Model(
        "text-embedding-3-small",
        "openai",
        "text-embedding-3-small",
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        0.02e-6,
        0.0,
        kind="embedding",
    ),
)

_ORGS = (("org-research", "Research"), ("org-product", "Product"), ("org-operations", "Operations"))
_TEAMS = (
    ("search", 1),
    ("support-bot", 1),
    ("ml-research", 0),
    ("platform", 2),
    ("growth", 1),
    ("data-science", 0),
    ("legal-review", 2),
    ("mobile", 1),
    ("sales-assist", 2),
    ("security", 2),
    ("eval-lab", 0),
    ("internal-tools", 2),
)
_APPS = ("chat", "summarizer", "classifier", "copilot", "indexer", "agent", "batch", "notebook")
_FIRST = ("ada", "alan", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances", "edsger")
_LAST = ("lovelace", "turing", "hopper", "torvalds", "liskov", "thompson", "hamilton", "ritchie", "allen")


@dataclass
class Org:
    organization_id: str
    alias: str
    max_budget: float | None = None


@dataclass
class Team:
    team_id: str
    alias: str
    organization_id: str | None
    weight: float
    models: list[str] = field(default_factory=list)
    blocked: bool = False
    has_budget: bool = False
    admins: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


@dataclass
class User:
    user_id: str
    email: str
    role: str
    teams: list[str]
    organization_id: str | None
    has_budget: bool = False


@dataclass
class Key:
    raw: str
    alias: str
    user_id: str | None
    team_id: str | None
    weight: float
    env: str
    app: str
    models: list[str] = field(default_factory=list)
    expires: datetime | None = None
    has_budget: bool = False
    model_probs: np.ndarray = field(
        default_factory=lambda: np.zeros(0)
    )  # over Organization.models (build_org)

    @property
    def token(self) -> str:
        return hashlib.sha256(self.raw.encode()).hexdigest()

    @property
    def key_name(self) -> str:
        return f"sk-...{self.raw[-4:]}"


@dataclass
class Organization:
    orgs: list[Org]
    teams: list[Team]
    users: list[User]
    keys: list[Key]
    models: list[Model]

    def team(self, team_id: str | None) -> Team | None:
        return next((t for t in self.teams if t.team_id == team_id), None)

    def user(self, user_id: str | None) -> User | None:
        return next((u for u in self.users if u.user_id == user_id), None)


def _hex(rng: np.random.Generator, n: int) -> str:
    return rng.bytes(n).hex()


def build_org(seed: int, start: datetime, end: datetime) -> Organization:
    """The organization for `seed`; key expiries fall inside the traffic window [start, end)."""
    rng = np.random.default_rng([seed, 1])

    chat = [m for m in CATALOG if m.kind == "chat"]
    embedding = [m for m in CATALOG if m.kind == "embedding"]
    n_chat = int(rng.integers(4, len(chat) + 1))  # 4-7 chat models, plus the embedding model
    picked = {"gpt-4o-mini"} | {chat[int(i)].model_name for i in rng.choice(len(chat), n_chat, replace=False)}
    models = [m for m in chat if m.model_name in picked][:7] + embedding
    chat_names = [m.model_name for m in models if m.kind == "chat"]
    popularity = rng.dirichlet(np.full(len(chat_names), 2.0))

    orgs = [Org(oid, alias) for oid, alias in _ORGS]
    team_weights = 1.0 / np.arange(1, len(_TEAMS) + 1) ** 1.1
    team_weights = team_weights[rng.permutation(len(_TEAMS))]
    teams: list[Team] = []
    for i, (alias, org_index) in enumerate(_TEAMS):
        team = Team(
            team_id=f"team-{_hex(rng, 6)}",
            alias=alias,
            organization_id=orgs[org_index].organization_id,
            weight=float(team_weights[i]),
            has_budget=bool(rng.random() < 0.7),
        )
        teams.append(team)
    # One team outside every organization, one team blocked, one team restricted to cheap models.
    teams[-1].organization_id = None
    lightest = min(teams[:-1], key=lambda t: t.weight)
    lightest.blocked = True
    restricted = teams[int(rng.integers(0, len(teams) - 1))]
    restricted.models = sorted({"gpt-4o-mini", *[n for n in chat_names if "haiku" in n or "flash" in n]})
    restricted.models.append("text-embedding-3-small")

    users: list[User] = []
    used_emails: set[str] = set()
    for team in teams:
        for j in range(int(rng.integers(3, 8))):
            while True:
                email = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{int(rng.integers(1, 100))}@example.com"
                if email not in used_emails:
                    used_emails.add(email)
                    break
            role = "admin" if j == 0 else ("viewer" if rng.random() < 0.15 else "user")
            user = User(
                user_id=f"user-{_hex(rng, 6)}",
                email=email,
                role=role,
                teams=[team.team_id],
                organization_id=team.organization_id,
                has_budget=bool(rng.random() < 0.25),
            )
            users.append(user)
            team.members.append(user.user_id)
            if role == "admin":
                team.admins.append(user.user_id)
    # A few users belong to a second team.
    for user in (users[int(i)] for i in rng.choice(len(users), 6, replace=False)):
        other = teams[int(rng.integers(0, len(teams)))]
        if other.team_id not in user.teams:
            user.teams.append(other.team_id)
            other.members.append(user.user_id)

    keys: list[Key] = []
    span = (end - start).total_seconds()

    def add_key(user: User | None, team: Team | None, weight: float) -> None:
        env = "prod" if rng.random() < 0.6 else ("staging" if rng.random() < 0.5 else "dev")
        app = str(rng.choice(_APPS))
        owner = team.alias if team else (user.email.split("@")[0] if user else "shared")
        key = Key(
            raw=f"sk-{_hex(rng, 24)}",
            alias=f"{owner}-{app}-{env}-{len(keys):03d}",
            user_id=user.user_id if user else None,
            team_id=team.team_id if team else None,
            weight=weight * (1.0 if env == "prod" else 0.3),
            env=env,
            app=app,
            has_budget=bool(rng.random() < 0.2),
        )
        candidates = [n for n in chat_names if team is None or not team.models or n in team.models]
        if rng.random() < 0.15 and candidates:
            allowed = rng.choice(candidates, min(len(candidates), int(rng.integers(1, 3))), replace=False)
            key.models = sorted(str(m) for m in allowed)
        if rng.random() < 0.06:
            key.expires = start + timedelta(seconds=float(span * rng.uniform(0.3, 0.9)))
        keys.append(key)

    for team in teams:
        members = [u for u in users if team.team_id in u.teams]
        shares = 1.0 / np.arange(1, len(members) + 2) ** 0.9
        shares = shares / shares.sum()
        for share, user in zip(shares, members, strict=False):
            for _ in range(int(rng.integers(1, 3))):
                add_key(user, team, team.weight * share)
        add_key(None, team, team.weight * shares[-1] * 2)  # a service key owned by the team only
    add_key(users[0], None, 0.01)  # a personal key with no team
    add_key(None, None, 0.005)  # a shared key with neither user nor team

    # Each key's distribution over the models, honouring key and team allowlists.
    names = [m.model_name for m in models]
    for key in keys:
        key_team = next((t for t in teams if t.team_id == key.team_id), None)
        allowed = set(key.models or names) & set(key_team.models or names if key_team else names)
        if key.app == "indexer":
            probs = np.array([1.0 if n == "text-embedding-3-small" else 0.0 for n in names])
        else:
            taste = rng.dirichlet(np.full(len(chat_names), 0.8)) * 0.5 + popularity * 0.5
            probs = np.array([taste[chat_names.index(n)] if n in chat_names else 0.0 for n in names])
            probs[names.index("text-embedding-3-small")] = 0.05
        probs = np.where([n in allowed for n in names], probs, 0.0)
        if probs.sum() == 0:
            probs = np.array([1.0 if n in allowed else 0.0 for n in names])
        key.model_probs = probs / probs.sum()
    return Organization(orgs=orgs, teams=teams, users=users, keys=keys, models=models)
