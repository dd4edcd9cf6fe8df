"""Refusals and budgets: who may call which model, and in-flight reservations against max_budget.

Spend seen by the proxy for an entity (key, user, team, organization) is

    db_spend (as last read)  + committed-but-not-yet-read  + settled-but-not-yet-committed  + reserved

where `reserved` is the estimated cost of requests in flight. A request is admitted only while that sum is
below every `max_budget` on its path, and then reserves its estimate; on completion the estimate is released
and the real cost settled. Hence many concurrent requests overshoot a budget by at most the cost of those
already in flight when it was reached. The ledger is per process: with `--workers W`, each worker also
sees the others' spend only through the database, i.e. within the cache lifetime (2 s) after their batch
commits, so the overshoot bound grows by what the other workers spend in that window.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from llmusage.proxy import errors
from llmusage.proxy.auth import Entity, Principal


@dataclass
class _Account:
    db_spend: float = 0.0
    read_at: float = float("-inf")  # monotonic start of the query that read db_spend
    uncommitted: float = 0.0
    committed: deque[tuple[float, float]] = field(default_factory=deque)  # (commit time, amount)
    committed_sum: float = 0.0
    reserved: float = 0.0

    def total(self) -> float:
        return self.db_spend + self.uncommitted + self.committed_sum + self.reserved

    def forget_before(self, when: float) -> None:
        while self.committed and self.committed[0][0] < when:
            self.committed_sum -= self.committed.popleft()[1]
        if not self.committed:
            self.committed_sum = 0.0  # no float drift


class Ledger:
    """In-memory spend accounts of this process (see the module docstring)."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._accounts: dict[Entity, _Account] = {}

    def _account(self, entity: Entity) -> _Account:
        acc = self._accounts.get(entity)
        if acc is None:
            acc = self._accounts[entity] = _Account()
        return acc

    def observe(self, principal: Principal, started: float) -> None:
        """A fresh read of the database (the query began at `started`): adopt its spends."""
        for entity, spend in principal.spends.items():
            acc = self._account(entity)
            if started < acc.read_at:
                continue
            acc.db_spend = spend
            acc.read_at = started
            acc.forget_before(started)

    def spend(self, entity: Entity) -> float:
        acc = self._accounts.get(entity)
        return acc.total() if acc else 0.0

    def settled(self, entity: Entity) -> float:
        """The entity's spend without the estimates of requests in flight (what `/metrics` reports)."""
        acc = self._accounts.get(entity)
        return acc.total() - acc.reserved if acc else 0.0

    def admit(self, principal: Principal, estimate: float) -> list[Entity]:
        """Refuse (429) if any budget on the path is reached, else reserve `estimate` on every entity."""
        for entity, limit in principal.budgets.items():
            spent = self.spend(entity)
            if spent >= limit:
                raise errors.budget_exceeded(
                    f"budget exceeded for {entity[0]}: spend {spent:.6f} >= max_budget {limit:.6f}"
                )
        entities = principal.entities()
        for entity in entities:
            self._account(entity).reserved += estimate
        return entities

    def settle(self, entities: list[Entity], estimate: float, cost: float) -> None:
        for entity in entities:
            acc = self._account(entity)
            acc.reserved -= estimate
            acc.uncommitted += cost

    def forget_uncommitted(self, entity: Entity, amount: float) -> None:
        """A settled amount that will never be committed (its row was refused by the database)."""
        self._account(entity).uncommitted -= amount

    def committed(self, amounts: dict[Entity, float]) -> None:
        """The writer committed these settled amounts to the database."""
        now = time.monotonic()
        horizon = now - self._ttl - 1.0
        for entity, amount in amounts.items():
            acc = self._account(entity)
            acc.uncommitted -= amount
            acc.committed.append((now, amount))
            acc.committed_sum += amount
            acc.forget_before(min(horizon, acc.read_at))


def check_principal(principal: Principal) -> None:
    """403 for an expired or blocked key, a blocked team, user or organization."""
    if principal.key_blocked:
        raise errors.forbidden("this key is blocked", "key_blocked")
    if principal.expires is not None:
        expires = principal.expires
        now = datetime.now(UTC).replace(tzinfo=None) if expires.tzinfo is None else datetime.now(UTC)
        if expires <= now:
            raise errors.forbidden("this key has expired", "key_expired")
    if principal.team_blocked:
        raise errors.forbidden("this key's team is blocked", "team_blocked")
    if principal.user_blocked:
        raise errors.forbidden("this key's user is blocked", "user_blocked")
    if principal.org_blocked:
        raise errors.forbidden("this key's organization is blocked", "organization_blocked")


def check_model(principal: Principal, model_name: str) -> None:
    """403 for a model outside the key's or the team's `models` (empty means all)."""
    if not model_allowed(principal, model_name):
        raise errors.forbidden(f"this key may not use model {model_name!r}", "model_not_allowed")


def _allows(models: tuple[str, ...], name: str) -> bool:
    return not models or name in models or "all-proxy-models" in models or "*" in models


def model_allowed(principal: Principal, model_name: str) -> bool:
    return _allows(principal.key_models, model_name) and _allows(principal.team_models, model_name)
