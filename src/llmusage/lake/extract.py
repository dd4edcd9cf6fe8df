"""Spend logs from PostgreSQL into `lake/spend_logs/date=YYYY-MM-DD/part-0.parquet`, one UTC day each.

How rows travel. The reader is ADBC's PostgreSQL driver streaming binary COPY as Arrow record batches
(`reader.py`): printing `jsonb` as text is a large share of the server's work, so anything but binary COPY
costs more, and parsing COPY row by row in Python is slower than the server produces it. ADBC streams COPY
only for queries without bind parameters, so the day bounds are timestamps quoted client-side by psycopg
(`sql.Literal`), which also lets the planner choose a sequential scan when a day's rows are spread over the
whole table. `tags` is derived on the client (`tags.py`). Parquet is zstd, with dictionaries on the five
low-cardinality columns and statistics only where people filter. The days are split into contiguous groups
of about equal size (at most 31 days each), read by `workers` (2) connections in parallel threads (ADBC and
Arrow release the GIL), so one group's server COPY overlaps another's Parquet encoding. Measurements and how
to reproduce them: docs/benchmarks.md, "Extract".

Bounded memory. Each reader routes its batches to per-day writers; a day's buffer becomes a row group
at `row_group_rows` rows, and when a reader's buffers together pass `buffer_bytes` the largest is
flushed early (smaller row groups when the table is not in time order, never more memory). A day
partition never has to fit in memory, whatever its size.

Atomic and idempotent. A partition is written to `date=D/.part-0.parquet.<pid>.tmp` and renamed over
`part-0.parquet` (one file per day, so a rename is the whole switch); a crash leaves the previous file
intact and a stale aside file that the next run deletes. A partition is always rewritten whole from one
query (one snapshot), and `request_id` is the table's primary key, so a partition never holds a request
twice and a re-run gives the same rows; nothing is ever appended.

What changed (a no-argument run). The state (`state.py`) keeps each partition's rows, spend sum and
max `created_at`. A run asks PostgreSQL for rows and max `created_at` per day (an index-only scan of
`idx_spendlogs_created_at`; a spend sum would read the heap), only for the days from
`watermark - lag` on (the watermark is the latest `created_at` the previous run saw; lag defaults to 2 h,
the time a row may take to commit after its `created_at`): one range query on `idx_spendlogs_created_at`
that costs the rows of those days, not the table. A day whose numbers differ (or that the lake lacks) is
re-extracted; a day that lost all its rows loses its partition. A log's spend is written once with the
log (the proxy writes a request exactly once), so an in-place UPDATE of an old log's spend is not looked
for: re-extract that day explicitly. The first run asks only min/max(created_at) and takes every day. Rows
committed later than the lag behind the newest row are not seen by a no-argument run: `--date` or
`--from/--to` re-extracts any range explicitly.

Pruned days. A day that retention deleted from PostgreSQL (`pruned_at` in its state record) is never
re-extracted, by any run: its partition is the only complete copy, and re-reading the database would
empty or shrink it. Such days are left out of the plan.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from llmusage.errors import LlmusageError
from llmusage.lake.lag import LAG_WINDOW
from llmusage.lake.layout import (
    STALE_PARTITION_ASIDES,
    aside_path,
    partition_dir,
    partition_path,
    spend_logs_dir,
    state_dir,
)
from llmusage.lake.lock import lake_lock
from llmusage.lake.reader import ArrowSession
from llmusage.lake.state import LakeState, PartitionRecord
from llmusage.lake.tags import TAGS_TYPE, tags_from_json_list, tags_from_metadata
from llmusage.sources.spend_logs import SpendLogSource, spend_log_source

DICTIONARY_COLUMNS = [
    "api_key", "model", "model_group", "provider", "user_id", "team_id", "organization_id", "call_type", "status",
]  # fmt: skip
STATISTICS_COLUMNS = ["event_time", "spend", "api_key", "model", "model_group", "user_id", "team_id"]
TIMESTAMP_COLUMNS = ("event_time", "end_time", "created_at")
MAX_DAYS_PER_QUERY = 31
US_PER_DAY = 86_400_000_000
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class ExtractOptions:
    days: tuple[date, date] | None = None  # inclusive range; None: what changed since the last run
    with_payload: bool = False
    lag: timedelta = LAG_WINDOW
    workers: int = 2
    row_group_rows: int = 131_072
    buffer_bytes: int = 24 * 1024 * 1024


@dataclass
class PartitionResult:
    day: date
    rows: int
    spend: float
    path: Path | None  # None: the day has no rows (any old partition was removed)


@dataclass
class ExtractReport:
    checked_days: int = 0
    partitions: list[PartitionResult] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    @property
    def spend(self) -> float:
        return math.fsum(p.spend for p in self.partitions)


def extract(url: str, lake_dir: Path, options: ExtractOptions | None = None) -> ExtractReport:
    """Bring the lake's spend log partitions up to date with PostgreSQL (see the module docstring)."""
    options = options or ExtractOptions()
    with lake_lock(lake_dir):
        _remove_stale_asides(lake_dir)
        state = LakeState.load(lake_dir)
        with _connect(url) as conn:
            source = spend_log_source(conn)
            days, checked, watermark = _plan(conn, source, lake_dir, state, options)
        report = ExtractReport(checked_days=checked)
        if days:
            report.partitions = _extract_days(url, lake_dir, state, source, days, options)
        if options.days is None and watermark is not None:
            state.set_watermark(max(watermark, state.watermark_datetime() or watermark))
    return report


def reset_spend_logs(lake_dir: Path) -> None:
    """Forget every spend log partition and its state (after the database was replaced wholesale)."""
    import shutil

    with lake_lock(lake_dir):
        shutil.rmtree(spend_logs_dir(lake_dir), ignore_errors=True)
        shutil.rmtree(state_dir(lake_dir), ignore_errors=True)


def _connect(url: str) -> psycopg.Connection:
    from llmusage.pg.connect import connect

    return connect(url, autocommit=True)


def _plan(
    conn: psycopg.Connection,
    source: SpendLogSource,
    lake_dir: Path,
    state: LakeState,
    options: ExtractOptions,
) -> tuple[dict[date, int], int, datetime | None]:
    """The days to extract (with their row counts), how many days were checked, and the new watermark."""
    if options.days is not None:
        first, last = options.days
        since, until = _midnight(first), _midnight(last + timedelta(days=1))
        found = source.fingerprints(conn, since, until)
        wanted = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        known = {d for d in wanted if state.get(d) is not None or partition_dir(lake_dir, d).exists()}
        days = {d: found[d][0] if d in found else 0 for d in wanted if d in found or d in known}
        return _unpruned(days, state), len(wanted), None
    mark = state.watermark_datetime()
    if mark is None and not state.partitions:  # first run: every day, no per-day scan needed
        first, last = source.span(conn)
        if first is None or last is None:
            return {}, 0, None
        every = [first.date() + timedelta(days=i) for i in range((last.date() - first.date()).days + 1)]
        return dict.fromkeys(every, 1), len(every), last
    since = datetime(1, 1, 1) if mark is None else _midnight((mark - options.lag).date())
    found = source.fingerprints(conn, since, datetime(9999, 12, 31))
    days = {}
    for day, (n, latest) in found.items():
        record = state.get(day)
        if record is None or not record.matches(n, latest):
            days[day] = n
    for key in state.partitions:  # days in the checked range that lost every row
        day = date.fromisoformat(key)
        if _midnight(day) >= since and day not in found:
            days[day] = 0
    newest = max((f[1] for f in found.values()), default=None)
    return _unpruned(days, state), len(found), newest


def _unpruned(days: dict[date, int], state: LakeState) -> dict[date, int]:
    """The days retention has not pruned (their partitions are never rewritten, see the module docstring)."""
    return {day: n for day, n in days.items() if not state.pruned(day)}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _groups(days: dict[date, int], workers: int) -> list[list[date]]:
    """Contiguous runs of days with about equal rows, one query each, at most MAX_DAYS_PER_QUERY days."""
    ordered = sorted(days)
    total = sum(days.values())
    target = max(1, math.ceil(total / max(1, workers)))
    groups: list[list[date]] = []
    current: list[date] = []
    rows = 0
    for day in ordered:
        if current and (
            rows + days[day] > target or len(current) >= MAX_DAYS_PER_QUERY or (day - current[-1]).days > 1
        ):
            groups.append(current)
            current, rows = [], 0
        current.append(day)
        rows += days[day]
    if current:
        groups.append(current)
    return groups


def _extract_days(
    url: str,
    lake_dir: Path,
    state: LakeState,
    source: SpendLogSource,
    days: dict[date, int],
    options: ExtractOptions,
) -> list[PartitionResult]:
    groups = _groups(days, options.workers)
    queries = _range_queries(url, source, groups, options.with_payload)
    with ThreadPoolExecutor(max_workers=max(1, min(options.workers, len(groups)))) as pool:
        futures = [
            pool.submit(_extract_group, url, query, lake_dir, state, group, options)
            for group, query in zip(groups, queries, strict=True)
        ]
        results = [r for f in futures for r in f.result()]
    return sorted(results, key=lambda r: r.day)


def _range_queries(
    url: str, source: SpendLogSource, groups: list[list[date]], with_payload: bool
) -> list[str]:
    """One query per group, its bounds quoted client-side by psycopg (see sql/sources/*/spend_logs_range.sql)."""
    with _connect(url) as conn:
        return [
            source.range_query(conn, _midnight(g[0]), _midnight(g[-1] + timedelta(days=1)), with_payload)
            for g in groups
        ]


def _extract_group(
    url: str, query: str, lake_dir: Path, state: LakeState, group: list[date], options: ExtractOptions
) -> list[PartitionResult]:
    """Read one contiguous range of days with one COPY and publish each day's partition."""
    router = DayRouter(lake_dir, set(group), options)
    try:
        with ArrowSession(url) as session, session.query(query) as batches:
            for batch in batches:
                router.add(batch)
        return router.publish(state)
    finally:
        router.discard()


def normalize(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Lake types: JSON as text, times as UTC timestamps (µs), and `tags` (a list) after `metadata`,
    from the metadata's `tags` (llmusage flavour) or the `request_tags` JSON list (LiteLLM's)."""
    columns = {name: _plain(column) for name, column in zip(batch.schema.names, batch.columns, strict=True)}
    request_tags = columns.pop("request_tags", None)
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for name, column in columns.items():
        if name in TIMESTAMP_COLUMNS:
            if pa.types.is_null(column.type):
                column = pa.nulls(len(column), pa.timestamp("us", tz="UTC"))
            elif column.type.tz is None:
                column = column.cast(pa.timestamp("us", tz="UTC"))
        arrays.append(column)
        fields.append(pa.field(name, column.type))
        if name == "metadata":
            arrays.append(
                tags_from_metadata(column) if request_tags is None else tags_from_json_list(request_tags)
            )
            fields.append(pa.field("tags", TAGS_TYPE))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _plain(column: pa.Array) -> pa.Array:
    """The column without ADBC's extension type, large strings as strings."""
    if isinstance(column.type, pa.BaseExtensionType):
        column = column.storage
    return column.cast(pa.string()) if pa.types.is_large_string(column.type) else column


@dataclass
class _DayBuffer:
    batches: list[pa.RecordBatch] = field(default_factory=list)
    rows: int = 0
    nbytes: int = 0
    written: int = 0
    spend: list[float] = field(default_factory=list)
    max_us: int | None = None
    writer: pq.ParquetWriter | None = None


class DayRouter:
    """Routes record batches to one Parquet writer per day, with bounded buffers (module docstring)."""

    def __init__(self, lake_dir: Path, days: set[date], options: ExtractOptions) -> None:
        self.lake_dir = lake_dir
        self.days = days
        self.options = options
        self.buffers: dict[date, _DayBuffer] = {}
        self.buffered_bytes = 0
        self.schema: pa.Schema | None = None

    def add(self, raw: pa.RecordBatch) -> None:
        if raw.num_rows == 0:
            return
        batch = normalize(raw)
        self.schema = self.schema or batch.schema
        micros = batch.column("event_time").cast(pa.int64())
        day_numbers = pc.divide(micros, US_PER_DAY)  # floor for non-negative epochs
        if pc.min(day_numbers).as_py() == pc.max(day_numbers).as_py():
            self._append(EPOCH + timedelta(days=pc.min(day_numbers).as_py()), batch)
            return
        # One `take` per day: each day's rows become arrays of their own, so a buffered day never
        # keeps the whole incoming batch alive (slices of one taken batch would).
        order = pc.sort_indices(day_numbers)
        counts = pc.value_counts(day_numbers)
        offset = 0
        values = counts.field("values").to_pylist()
        sizes = counts.field("counts").to_pylist()
        for number, size in sorted(zip(values, sizes, strict=True)):
            self._append(EPOCH + timedelta(days=number), batch.take(order.slice(offset, size)))
            offset += size

    def _append(self, day: date, batch: pa.RecordBatch) -> None:
        if day not in self.days:  # cannot happen with the range query; never write outside the plan
            raise LlmusageError(f"row for {day} outside the requested days")
        buf = self.buffers.setdefault(day, _DayBuffer())
        size = batch.nbytes
        buf.batches.append(batch)
        buf.rows += batch.num_rows
        buf.nbytes += size
        self.buffered_bytes += size
        buf.spend.append(pc.sum(batch.column("spend")).as_py() or 0.0)
        latest = pc.max(batch.column("event_time").cast(pa.int64())).as_py()
        buf.max_us = latest if buf.max_us is None else max(buf.max_us, latest)
        if buf.rows >= self.options.row_group_rows:
            self._flush(day)
        while self.buffered_bytes > self.options.buffer_bytes:
            largest = max(self.buffers, key=lambda d: self.buffers[d].nbytes)
            self._flush(largest)

    def _aside(self, day: date) -> Path:
        return aside_path(partition_path(self.lake_dir, day))

    def _flush(self, day: date) -> None:
        buf = self.buffers[day]
        if not buf.batches:
            return
        table = pa.Table.from_batches(buf.batches, schema=self.schema)
        if buf.writer is None:
            path = self._aside(day)
            path.parent.mkdir(parents=True, exist_ok=True)
            buf.writer = open_writer(path, table.schema)
        buf.writer.write_table(table, row_group_size=max(1, table.num_rows))
        buf.written += buf.rows
        self.buffered_bytes -= buf.nbytes
        buf.batches, buf.rows, buf.nbytes = [], 0, 0

    def publish(self, state: LakeState) -> list[PartitionResult]:
        """Close every day's writer and rename it into place; days without rows lose their partition."""
        results = []
        extracted_at = datetime.now(UTC).replace(tzinfo=None).isoformat()
        for day in sorted(self.days):
            buf = self.buffers.get(day)
            target = partition_path(self.lake_dir, day)
            if buf is None:
                _remove_partition(self.lake_dir, day)
                state.put(day, None)
                results.append(PartitionResult(day, 0, 0.0, None))
                continue
            self._flush(day)
            assert buf.writer is not None
            buf.writer.close()
            buf.writer = None
            publish_file(self._aside(day), target)
            spend = math.fsum(buf.spend)
            latest = datetime(1970, 1, 1) + timedelta(microseconds=buf.max_us or 0)
            state.put(day, PartitionRecord(buf.written, spend, latest.isoformat(), extracted_at))
            results.append(PartitionResult(day, buf.written, spend, target))
        return results

    def discard(self) -> None:
        """Close and delete any aside file still open (after an error)."""
        for day, buf in self.buffers.items():
            if buf.writer is not None:
                buf.writer.close()
                buf.writer = None
            self._aside(day).unlink(missing_ok=True)


def open_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    names = set(schema.names)
    return pq.ParquetWriter(
        path,
        schema,
        compression="zstd",
        use_dictionary=[c for c in DICTIONARY_COLUMNS if c in names],
        write_statistics=[c for c in STATISTICS_COLUMNS if c in names],
    )


def publish_file(aside: Path, target: Path) -> None:
    """The atomic switch: the aside file replaces the partition's file in one rename."""
    os.replace(aside, target)


def _remove_partition(lake_dir: Path, day: date) -> None:
    directory = partition_dir(lake_dir, day)
    partition_path(lake_dir, day).unlink(missing_ok=True)
    if directory.exists() and not any(directory.iterdir()):
        directory.rmdir()


def _remove_stale_asides(lake_dir: Path) -> None:
    """Aside files left by a crashed run (the lock guarantees no other run is writing)."""
    for stale in spend_logs_dir(lake_dir).glob(STALE_PARTITION_ASIDES):
        stale.unlink(missing_ok=True)
