"""How far the lake is behind PostgreSQL: the newest spend log in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from llmusage.lake.state import LakeState
from llmusage.pg.connect import connect
from llmusage.sources.spend_logs import spend_log_source


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

    @property
    def behind_minutes(self) -> float | None:
        """`behind` in minutes: 0.0 when the lake is current, None only when the lake is empty and PostgreSQL
        is not (a zero lag is a lag, not a missing one)."""
        behind = self.behind
        return None if behind is None else behind.total_seconds() / 60


def lake_lag(url: str, lake_dir: Path) -> LakeLag:
    with connect(url) as conn:
        postgres_newest = spend_log_source(conn).newest(conn)
    newest = max(
        (
            datetime.fromisoformat(r.max_created_at)
            for r in LakeState.load(lake_dir).partitions.values()
            if r.max_created_at
        ),
        default=None,
    )
    return LakeLag(postgres_newest=postgres_newest, lake_newest=newest)
