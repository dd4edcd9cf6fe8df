"""Batched, idempotent spend writes: spool first (durable), then PostgreSQL in batches.

`submit(line, spend, entities)` appends a spend log's JSON line (`spend.SpendRow.line`) to the spool and
returns a future that resolves once it is fsynced; the request completes only after that. A background
task takes up to `batch_max` rows at a time and runs `sql/proxy/write_logs.sql` in one transaction: insert
ON CONFLICT (request_id) DO NOTHING, and add the spend of the rows actually inserted to their key, user,
team and organization. On a database error the batch stays queued and is retried with backoff (the spool
keeps it across a crash meanwhile); the cause (`dbhealth.describe`) is in `last_error` while the most recent
write failed (`/health/ready` reports it) and in the log, once per cause per interval (`dbhealth.FailureLog`).
`on_batch`, when given, is told the seconds of every committed transaction (the batch-write histogram).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable

import psycopg
from psycopg_pool import AsyncConnectionPool

from llmusage import sqlfiles
from llmusage.proxy.dbhealth import FailureLog, describe
from llmusage.proxy.policy import Entity, Ledger
from llmusage.proxy.spool import Segment, Spool

log = logging.getLogger("llmusage.proxy.writer")


class _Item:
    __slots__ = ("entities", "line", "segment", "spend")

    def __init__(self, line: bytes, spend: float, segment: Segment, entities: list[Entity]):
        self.line = line  # the row's JSON, exactly as spooled (newline included)
        self.spend = spend
        self.segment = segment
        self.entities = entities


class SpendWriter:
    """Owns the spool and the queue of rows to write."""

    WHAT = "spend write"

    def __init__(
        self,
        pool: AsyncConnectionPool,
        spool: Spool,
        ledger: Ledger,
        batch_max: int,
        batch_wait: float,
        failures: FailureLog | None = None,
        on_batch: Callable[[float], None] | None = None,
    ) -> None:
        self.pool = pool
        self.spool = spool
        self.ledger = ledger
        self.batch_max = batch_max
        self.batch_wait = batch_wait
        self.failures = failures or FailureLog()
        self.on_batch = on_batch  # seconds of each committed write transaction (metrics)
        self._queue: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.db_ok = True
        self.written = 0
        self.rejected = 0
        self.last_error: str | None = None  # the cause while the most recent write failed

    def submit(self, line: bytes, spend: float, entities: list[Entity]) -> asyncio.Future[None]:
        """Spool `line` (one row's JSON and a newline) and queue it for the database; await the result for
        durability. `spend` is the row's, settled on `entities` in the ledger."""
        seg, fut = self.spool.append(line)
        self._queue.append(_Item(line, spend, seg, entities))
        if len(self._queue) >= self.batch_max or not self._wake.is_set():
            self._wake.set()
        return fut

    def start(self) -> None:
        self._recover()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _recover(self) -> None:
        for rec in self.spool.claim_orphans():
            for row, line in zip(rec.rows, rec.lines, strict=True):
                self._queue.append(_Item(line, float(row.get("spend") or 0.0), rec.segment, []))
            log.info("recovered %d spend logs from %s", len(rec.rows), rec.segment.path.name)
        if self._queue:
            self._wake.set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Flush what can be flushed within `timeout`; the rest stays in the spool for the next start."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout)

    @property
    def depth(self) -> int:
        return self.spool.pending_rows

    async def _run(self) -> None:
        backoff = 0.2
        last_scan = time.monotonic()
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                self.spool.rotate_if_idle()
                if time.monotonic() - last_scan > 5.0:
                    last_scan = time.monotonic()
                    self._recover()
                continue
            if len(self._queue) < self.batch_max and not self._stopping:
                await asyncio.sleep(self.batch_wait)
            batch = [self._queue.popleft() for _ in range(min(self.batch_max, len(self._queue)))]
            try:
                await self._write(batch)
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                # A row PostgreSQL refuses must not block the others: write them one by one and set the
                # refused ones aside in spool/rejected-<pid>.jsonl (fsynced) for an operator to look at.
                log.error(
                    "a batch of %d spend logs was refused (%s); writing row by row",
                    len(batch),
                    type(exc).__name__,
                )
                batch = await self._write_each(batch)
                if batch:
                    self._after_commit(batch)
                    self.written += len(batch)
                continue
            except Exception as exc:
                self._queue.extendleft(reversed(batch))
                self.db_ok = False
                self.last_error = describe(exc)
                self.failures.report(self.WHAT, self.last_error, f"; {len(self._queue)} rows kept, retrying")
                if self._stopping:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            if not self.db_ok:
                self.db_ok, self.last_error = True, None
                self.failures.recovered(self.WHAT)
            self.written += len(batch)
            self._after_commit(batch)

    async def _write(self, batch: list[_Item]) -> None:
        rows = b"[" + b",".join(item.line for item in batch) + b"]"
        params = {"rows": rows.decode()}
        started = time.perf_counter()
        async with self.pool.connection(timeout=5.0) as conn, conn.transaction():
            await conn.execute(sqlfiles.load("proxy/write_logs.sql"), params)
        if self.on_batch is not None:
            self.on_batch(time.perf_counter() - started)

    async def _write_each(self, batch: list[_Item]) -> list[_Item]:
        """Write rows singly; set aside those refused; requeue the rest on a connection failure."""
        done: list[_Item] = []
        for i, item in enumerate(batch):
            try:
                await self._write([item])
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                self._reject(item, type(exc).__name__)
                done.append(_Item(item.line, 0.0, item.segment, []))
                self.rejected += 1
                self._unsettle(item)
            except Exception as exc:
                self._queue.extendleft(reversed(batch[i:]))
                self.db_ok, self.last_error = False, describe(exc)
                self.failures.report(self.WHAT, self.last_error, f"; {len(self._queue)} rows kept, retrying")
                break
            else:
                done.append(item)
        return done

    def _unsettle(self, item: _Item) -> None:
        """A rejected row never reaches the database: take its cost back out of the ledger."""
        for entity in item.entities:
            self.ledger.forget_uncommitted(entity, item.spend)

    def _reject(self, item: _Item, reason: str) -> None:
        path = self.spool.directory / f"rejected-{os.getpid()}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, item.line)
            os.fsync(fd)
        finally:
            os.close(fd)
        log.error("spend log refused by PostgreSQL (%s), kept in %s", reason, path.name)

    def _after_commit(self, batch: list[_Item]) -> None:
        amounts: dict[Entity, float] = {}
        per_segment: dict[Segment, list[int]] = {}
        for item in batch:
            counts = per_segment.setdefault(item.segment, [0, 0])
            counts[0] += 1
            counts[1] += len(item.line)
            for entity in item.entities:
                amounts[entity] = amounts.get(entity, 0.0) + item.spend
        self.ledger.committed(amounts)
        for seg, (rows, nbytes) in per_segment.items():
            self.spool.committed(seg, rows, nbytes)
