"""Which kind of operational database a connection points at: llmusage's own, LiteLLM's, or an empty one.

- **LiteLLM** flavour: created and migrated by LiteLLM (Prisma). It has a `_prisma_migrations` table
  and LiteLLM's spend log columns (`"startTime"`, `custom_llm_provider`). LiteLLM owns every `LiteLLM_*`
  table there: llmusage never changes their DDL.
- **llmusage** flavour: created by `llmusage db migrate`; its spend logs have `api_provider` and no
  `"startTime"`.
- **empty**: no spend log table yet (`db migrate` makes it an llmusage database).

Detection reads the catalog only (no table is scanned), in the connection's current schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import psycopg

from llmusage.sqlfiles import load


class Flavour(StrEnum):
    LLMUSAGE = "llmusage"
    LITELLM = "litellm"
    EMPTY = "empty"


@dataclass(frozen=True)
class Detected:
    flavour: Flavour
    litellm_migration: str | None = None
    """LiteLLM's latest applied Prisma migration (LiteLLM flavour only)."""

    def describe(self) -> str:
        if self.flavour is Flavour.LITELLM:
            return f"LiteLLM (latest migration {self.litellm_migration or 'unknown'})"
        if self.flavour is Flavour.LLMUSAGE:
            return "llmusage"
        return "empty (no spend log table; `llmusage db migrate` creates an llmusage database)"


def detect(conn: psycopg.Connection) -> Detected:
    """The flavour of the database behind `conn` (catalog reads only)."""
    row = conn.execute(load("sources/detect.sql")).fetchone()
    has_logs, has_start_time, has_prisma = row if row else (False, False, False)
    if has_prisma or has_start_time:
        latest = None
        if has_prisma:
            found = conn.execute(load("sources/litellm/latest_migration.sql")).fetchone()
            latest = found[0] if found else None
        return Detected(Flavour.LITELLM, latest)
    if has_logs:
        return Detected(Flavour.LLMUSAGE)
    return Detected(Flavour.EMPTY)
