"""Keys, looked up by SHA-256 through a short cache (2 s by default) so the database stays off the hot path.

One query fetches the key with its user, team and organization. An entry older than the TTL is fetched
again (one fetch per key at a time), so a key that becomes blocked, expired or over budget is refused
within the cache lifetime. Unknown keys are cached too (as None), so a flood of bad keys costs no queries.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The field of LiteLLM_UserTable.user_metadata that blocks a user (reconciliation sets it): a JSON `true`.
USER_BLOCKED_FIELD = "llmusage_blocked"


def hash_key(raw: str) -> str:
    """The SHA-256 hex digest stored in `LiteLLM_VerificationToken.token` for an `sk-...` key."""
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """A key and what it belongs to, as read at `fetched_at` (monotonic seconds)."""

    token: str
    key_alias: str | None
    user_id: str | None
    team_id: str | None
    org_id: str | None
    key_models: tuple[str, ...]
    team_models: tuple[str, ...]
    expires: datetime | None
    key_blocked: bool
    team_blocked: bool
    user_blocked: bool
    budgets: dict[tuple[str, str], float]  # (kind, id) -> max_budget, only the limited ones
    spends: dict[tuple[str, str], float]  # (kind, id) -> spend as read from the database
    fetched_at: float

    def entities(self) -> list[tuple[str, str]]:
        """(kind, id) for the key, user, team and organization this request's spend counts against."""
        out = [("key", self.token)]
        if self.user_id:
            out.append(("user", self.user_id))
        if self.team_id:
            out.append(("team", self.team_id))
        if self.org_id:
            out.append(("org", self.org_id))
        return out


def principal_from_row(row: tuple[Any, ...], fetched_at: float) -> Principal:
    (token, alias, user_id, team_id, key_models, key_max, key_spend, expires, key_blocked,
     user_exists, user_max, user_spend, user_meta,
     team_exists, team_max, team_spend, team_models, team_blocked,
     org_id, org_max, org_spend, _org_models) = row  # fmt: skip
    budgets: dict[tuple[str, str], float] = {}
    spends: dict[tuple[str, str], float] = {("key", token): float(key_spend)}
    if key_max is not None:
        budgets[("key", token)] = float(key_max)
    if user_exists:
        spends[("user", user_id)] = float(user_spend)
        if user_max is not None:
            budgets[("user", user_id)] = float(user_max)
    if team_exists:
        spends[("team", team_id)] = float(team_spend)
        if team_max is not None:
            budgets[("team", team_id)] = float(team_max)
    if org_id is not None:
        spends[("org", org_id)] = float(org_spend)
        if org_max is not None:
            budgets[("org", org_id)] = float(org_max)
    return Principal(
        token=token,
        key_alias=alias,
        user_id=user_id,
        team_id=team_id,
        org_id=org_id,
        key_models=tuple(key_models or ()),
        team_models=tuple(team_models or ()) if team_exists else (),
        expires=expires,
        key_blocked=bool(key_blocked),
        team_blocked=bool(team_blocked) if team_exists else False,
        user_blocked=isinstance(user_meta, dict) and user_meta.get(USER_BLOCKED_FIELD) is True,
        budgets=budgets,
        spends=spends,
        fetched_at=fetched_at,
    )


Fetcher = Callable[[str], Awaitable[tuple[Any, ...] | None]]


class KeyCache:
    """token hash -> Principal (or None for unknown keys), refreshed after `ttl` seconds."""

    def __init__(self, fetch: Fetcher, ttl: float, on_fetch: Callable[[Principal, float], None]) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._on_fetch = on_fetch  # lets the budget ledger learn fresh spends
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._inflight: dict[str, asyncio.Future[Principal | None]] = {}

    async def get(self, token: str) -> Principal | None:
        now = time.monotonic()
        hit = self._entries.get(token)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        pending = self._inflight.get(token)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._inflight[token] = fut
        try:
            started = time.monotonic()
            row = await self._fetch(token)
            principal = principal_from_row(row, started) if row is not None else None
            if principal is not None:
                self._on_fetch(principal, started)
            self._entries[token] = (started, principal)
            if len(self._entries) > 100_000:  # bound memory under a flood of random keys
                self._entries.clear()
            fut.set_result(principal)
            return principal
        except Exception as exc:
            if hit is not None:  # database unreachable: keep serving the last known rows a while longer
                self._entries[token] = (time.monotonic(), hit[1])
                fut.set_result(hit[1])
                return hit[1]
            fut.set_exception(exc)
            fut.exception()  # mark retrieved
            raise
        except BaseException:
            fut.cancel()
            raise
        finally:
            del self._inflight[token]

    def invalidate(self, token: str | None = None) -> None:
        if token is None:
            self._entries.clear()
        else:
            self._entries.pop(token, None)
