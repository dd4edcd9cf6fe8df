"""How far the lake is behind PostgreSQL: the newest spend log in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from llmusage.lake.state import LakeState
from llmusage.pg.connect import connect
from llmusage.sqlfiles import load


@dataclass(frozen=True)
class LakeLag:
    postgres_newest: datetime | None
    lake_newest: datetime | None

    @property
    def behind(self) -> timedelta | None:
        """PostgreSQL's newest log minus the lake's (zero when both are empty; None when only the lake is)."""
        if self.postgres_newest is None:
            return timedelta(0)
        if self.lake_newest is None:
            return None
        return max(self.postgres_newest - self.lake_newest, timedelta(0))


def lake_lag(url: str, lake_dir: Path) -> LakeLag:
    with connect(url) as conn:
        row = conn.execute(load("lake/newest_spend_log.sql")).fetchone()
    newest = max(
        (
            datetime.fromisoformat(r.max_created_at)
            for r in LakeState.load(lake_dir).partitions.values()
            if r.max_created_at
        ),
        default=None,
    )
    return LakeLag(postgres_newest=row[0] if row else None, lake_newest=newest)
