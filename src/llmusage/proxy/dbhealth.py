"""Honest database failures: what went wrong (PostgreSQL's message and SQLSTATE), logged without flooding,
and the health of key lookups that `/health/ready` reports.

- `describe(exc)` is one line naming a failure: `UndefinedColumn: column u.user_metadata does not exist
  (SQLSTATE 42703)`, or for a connection failure its first line (`PoolTimeout: couldn't get a connection
  after 1.00 sec`). Only PostgreSQL's primary message is used (its detail may quote row values).
- `FailureLog` logs each distinct (operation, cause) at most once per `interval` seconds (30 by default),
  with the number of times it happened in between, and one line when the operation works again.
- `Lookups` wraps the key fetcher: it remembers whether the most recent lookup failed, why, since when and
  for which key digest, so readiness can say so and retry exactly that lookup. The success path costs an
  attribute test, no query.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

import psycopg

log = logging.getLogger("llmusage.proxy.db")

T = TypeVar("T")


def describe(exc: BaseException) -> str:
    """One line naming a failure: its type, and PostgreSQL's primary message and SQLSTATE when it has them."""
    name = type(exc).__name__
    if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
        code = f" (SQLSTATE {exc.sqlstate})" if exc.sqlstate else ""
        return f"{name}: {exc.diag.message_primary}{code}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{name}: {lines[0]}" if lines else name


class FailureLog:
    """Logs failures once per distinct (operation, cause) per `interval` seconds, counting the rest."""

    MAX_CAUSES = 1000  # distinct causes remembered; beyond that the memory is cleared

    def __init__(
        self,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._log = logger
        self._seen: dict[tuple[str, str], list[float]] = {}  # -> [last logged at, not logged since]

    def report(self, what: str, cause: str, extra: str = "") -> bool:
        """Log `what failed: cause` unless the same cause was logged within the interval; True if logged.
        `extra` is appended to the line but is not part of the cause (e.g. a row count)."""
        now = self._clock()
        key = (what, cause)
        entry = self._seen.get(key)
        if entry is not None and now - entry[0] < self.interval:
            entry[1] += 1
            return False
        repeats = ""
        if entry is not None and entry[1]:
            repeats = f" (and {int(entry[1])} more times in the last {now - entry[0]:.0f} s)"
        if len(self._seen) >= self.MAX_CAUSES:
            self._seen.clear()
        self._seen[key] = [now, 0]
        self._log.error("%s failed: %s%s%s", what, cause, extra, repeats)
        return True

    def recovered(self, what: str) -> None:
        """`what` works again: say so once, with the failures not logged, and forget its causes."""
        keys = [key for key in self._seen if key[0] == what]
        if not keys:
            return
        unlogged = sum(int(self._seen.pop(key)[1]) for key in keys)
        more = f" ({unlogged} failures since the last one logged)" if unlogged else ""
        self._log.warning("%s works again%s", what, more)


class Lookups(Generic[T]):
    """Key lookups through `fetch(token)`, remembering whether the most recent one failed and why."""

    WHAT = "key lookup"

    def __init__(self, fetch: Callable[[str], Awaitable[T]], failures: FailureLog) -> None:
        self._fetch = fetch
        self._failures = failures
        self.error: str | None = None  # the cause of the most recent lookup's failure; None: it worked
        self.error_at: datetime | None = None  # when it failed (UTC)
        self.failing_since: datetime | None = None  # the first failure of the current run of failures
        self.failures = 0  # failures in the current run
        self.failed_token: str | None = None  # the key digest whose lookup failed last (readiness retries it)

    async def fetch(self, token: str) -> T:
        try:
            result = await self._fetch(token)
        except Exception as exc:
            self._failed(token, str(exc) or type(exc).__name__)
            raise
        if self.error is not None:
            self._recovered()
        return result

    async def recheck(self) -> None:
        """Retry the lookup that failed last (for readiness: a lookup that works again clears the failure)."""
        token = self.failed_token
        if self.error is None or token is None:
            return
        try:
            await self.fetch(token)
        except Exception:  # recorded by fetch
            return

    def _failed(self, token: str, cause: str) -> None:
        now = datetime.now(UTC)
        if self.error is None:
            self.failing_since = now
            self.failures = 0
        self.error, self.error_at, self.failed_token = cause, now, token
        self.failures += 1
        self._failures.report(self.WHAT, cause)

    def _recovered(self) -> None:
        self.error = self.error_at = self.failing_since = self.failed_token = None
        self.failures = 0
        self._failures.recovered(self.WHAT)

    def status(self) -> dict[str, object]:
        """For `/health/ready`: ok, or failing with the cause, when, since when and how often."""
        if self.error is None:
            return {"status": "ok"}
        return {
            "status": "failing",
            "error": self.error,
            "at": self.error_at.isoformat() if self.error_at else None,
            "since": self.failing_since.isoformat() if self.failing_since else None,
            "failures": self.failures,
        }
