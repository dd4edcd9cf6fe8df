"""What the lake holds: one record per spend log partition, kept in `lake/_state/spend_logs.json`.

A record is the partition's rows, spend sum and latest `created_at` as written, plus when it was
extracted, and when retention began deleting the day from PostgreSQL (`pruned_at`): from then on the
partition is the day's only complete copy, and the extract never rewrites or removes it. `watermark` is the latest `created_at` a no-argument run has seen; the next such run checks
the days from `watermark - lag` on (see `extract.py`). The file is rewritten whole, aside then renamed,
after every partition published, so it never lags the files by more than the partition being written.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from llmusage.lake.layout import aside_path, state_path


@dataclass(frozen=True)
class PartitionRecord:
    rows: int
    spend: float
    max_created_at: str | None  # ISO, naive UTC
    extracted_at: str  # ISO, UTC
    pruned_at: str | None = None  # ISO, UTC: retention deletes (or deleted) the day from PostgreSQL

    def matches(self, rows: int, max_created_at: datetime | None) -> bool:
        """True when Postgres's fingerprint of the day (rows, latest created_at) equals the partition's."""
        return (
            rows == self.rows
            and (max_created_at.isoformat() if max_created_at else None) == self.max_created_at
        )


@dataclass
class LakeState:
    path: Path
    partitions: dict[str, PartitionRecord] = field(default_factory=dict)
    watermark: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, lake_dir: Path) -> LakeState:
        path = state_path(lake_dir)
        if not path.exists():
            return cls(path=path)
        raw = json.loads(path.read_text())
        parts = {day: PartitionRecord(**rec) for day, rec in raw.get("partitions", {}).items()}
        return cls(path=path, partitions=parts, watermark=raw.get("watermark"))

    def get(self, day: date) -> PartitionRecord | None:
        return self.partitions.get(day.isoformat())

    def put(self, day: date, record: PartitionRecord | None) -> None:
        """Record (or, with None, forget) a partition and save at once."""
        with self._lock:
            if record is None:
                self.partitions.pop(day.isoformat(), None)
            else:
                self.partitions[day.isoformat()] = record
            self._save()

    def mark_pruned(self, day: date, record: PartitionRecord, when: datetime) -> None:
        """Record that retention deletes `day` from PostgreSQL (the partition is kept from now on)."""
        self.put(day, replace(record, pruned_at=when.isoformat()))

    def pruned(self, day: date) -> bool:
        record = self.get(day)
        return record is not None and record.pruned_at is not None

    def set_watermark(self, moment: datetime | None) -> None:
        with self._lock:
            self.watermark = moment.isoformat() if moment else None
            self._save()

    def watermark_datetime(self) -> datetime | None:
        return datetime.fromisoformat(self.watermark) if self.watermark else None

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "watermark": self.watermark,
            "partitions": {day: _record_json(rec) for day, rec in sorted(self.partitions.items())},
        }
        aside = aside_path(self.path)
        aside.write_text(json.dumps(body, indent=1))
        os.replace(aside, self.path)


def _record_json(record: PartitionRecord) -> dict:
    """A record as saved; `pruned_at` only once set, so a lake retention never touched keeps its old shape."""
    body = asdict(record)
    if body["pruned_at"] is None:
        del body["pruned_at"]
    return body
