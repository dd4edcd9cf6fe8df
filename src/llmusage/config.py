"""Configuration, read from the environment in one place and only when asked (never at import time).

| variable                | meaning                                   | default                              |
| ----------------------- | ----------------------------------------- | ------------------------------------ |
| `LLMUSAGE_DATABASE_URL` | the operational PostgreSQL (libpq URL)    | unset: embedded server under `pg/`   |
| `LLMUSAGE_HOME`         | data directory (lake, warehouse, pg, ...) | `./.llmusage`                        |
| `LLMUSAGE_MASTER_KEY`   | admin key for the proxy's management API  | unset: management routes refuse all  |
| `LLMUSAGE_AUTOMATION`   | `off`: Dagster schedules and sensors start stopped | `on`: they start running       |
| `LLMUSAGE_PARTITIONS_START` | first UTC day of the Dagster partitions (`YYYY-MM-DD`) | `2025-01-01`          |
| `LLMUSAGE_ALERT_WEBHOOKS` | comma-separated URLs that receive alerts (JSON POST, Slack-compatible `text`) | unset: no alert recorded or sent |
| `LLMUSAGE_ALERT_THRESHOLDS` | budget thresholds that alert, in percent of `max_budget` | `50,80,95,100` |
| `LLMUSAGE_RETENTION_DAYS` | days of spend logs PostgreSQL keeps: the Dagster retention schedule prunes older, verified days | unset: no retention schedule |

The LiteLLM management API (`LLMUSAGE_LITELLM_URL`, `LLMUSAGE_LITELLM_MASTER_KEY`) is described on `Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from llmusage.errors import LlmusageError

DEFAULT_HOME = ".llmusage"
DEFAULT_PARTITIONS_START = date(2025, 1, 1)
"""The first day of the Dagster partitions when LLMUSAGE_PARTITIONS_START is unset."""
_ON = {"on", "true", "1", "yes"}
_OFF = {"off", "false", "0", "no"}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration. `database_url` is None when the embedded server is to be used."""

    home: Path
    database_url: str | None
    master_key: str | None
    litellm_url: str | None = None
    """A LiteLLM proxy's base URL: write-back blocks and unblocks through its management API."""
    litellm_master_key: str | None = None
    automation: bool = True
    """Dagster schedules and sensors start running (LLMUSAGE_AUTOMATION=off: they start stopped)."""
    partitions_start: date = DEFAULT_PARTITIONS_START
    """The first UTC day of the daily partitions (the monthly ones start on the first of its month)."""
    alert_webhooks: tuple[str, ...] = ()
    """Where alerts are POSTed (`llmusage.alerts`); empty: alerts are neither recorded nor sent."""
    alert_thresholds: str | None = None
    """Budget thresholds in percent, as given (`50,80,95,100`); parsed by `llmusage.alerts.crossings`."""
    retention_days: int | None = None
    """Days of spend logs PostgreSQL keeps (`llmusage.retention`); None: Dagster prunes nothing."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("LLMUSAGE_HOME") or DEFAULT_HOME).expanduser().absolute()
        return cls(
            home=home,
            database_url=env.get("LLMUSAGE_DATABASE_URL") or None,
            master_key=env.get("LLMUSAGE_MASTER_KEY") or None,
            litellm_url=env.get("LLMUSAGE_LITELLM_URL") or None,
            litellm_master_key=env.get("LLMUSAGE_LITELLM_MASTER_KEY") or None,
            automation=_switch("LLMUSAGE_AUTOMATION", env.get("LLMUSAGE_AUTOMATION") or "on"),
            partitions_start=_day("LLMUSAGE_PARTITIONS_START", env.get("LLMUSAGE_PARTITIONS_START")),
            alert_webhooks=split_urls(env.get("LLMUSAGE_ALERT_WEBHOOKS")),
            alert_thresholds=env.get("LLMUSAGE_ALERT_THRESHOLDS") or None,
            retention_days=_days("LLMUSAGE_RETENTION_DAYS", env.get("LLMUSAGE_RETENTION_DAYS")),
        )

    @property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def reconcile_dir(self) -> Path:
        return self.home / "reconcile"

    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"


def _switch(name: str, value: str) -> bool:
    if value.strip().lower() in _ON:
        return True
    if value.strip().lower() in _OFF:
        return False
    raise LlmusageError(f"{name} must be on or off, got {value!r}")


def _day(name: str, value: str | None) -> date:
    if not value:
        return DEFAULT_PARTITIONS_START
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise LlmusageError(f"{name} must be a day (YYYY-MM-DD), got {value!r}") from None


def _days(name: str, value: str | None) -> int | None:
    """A whole number of days, at least 1; None when unset or empty."""
    if not value or not value.strip():
        return None
    try:
        days = int(value.strip())
    except ValueError:
        days = 0
    if days < 1:
        raise LlmusageError(f"{name} must be a whole number of days, at least 1, got {value!r}")
    return days


def split_urls(text: str | None) -> tuple[str, ...]:
    """A comma-separated list of URLs, blanks dropped, each once, in order."""
    urls = (part.strip() for part in (text or "").split(","))
    return tuple(dict.fromkeys(url for url in urls if url))


def sql_dir() -> Path:
    """Where the project's SQL files live: packaged beside the module, or the repository's `sql/`."""
    packaged = Path(__file__).with_name("sql")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "sql"
