"""The durable local spool: every accepted spend log is on disk before its response completes.

Layout: `$LLMUSAGE_HOME/spool/seg-<pid>-<n>.jsonl`, one JSON spend-log row per line. A process appends to
its own current segment (created under a temporary name, `flock`ed, then renamed, so nobody else can claim
it while it lives) and fsyncs in groups: every request waiting in the same round shares one `fsync`, done
on a dedicated thread, and its response is completed only after that fsync returns. A segment is rotated
past `segment_bytes` and deleted once every row in it is committed to PostgreSQL.

Recovery: a segment whose lock is free belongs to a dead process (the lock dies with it, even on kill -9).
Any proxy process claims such orphans (at start and every few seconds), replays their rows (idempotent:
`request_id` is the spend log's primary key and the insert is ON CONFLICT DO NOTHING) and deletes them.
A torn last line (a crash mid-write, before its fsync, hence never acknowledged) is skipped.

Bound: when the bytes not yet committed reach `max_bytes`, `full()` is true and the proxy answers new
requests 503 rather than serve without a log. A write the disk cannot take (full, or a file size limit)
is cut back to the last whole line and raised, and that request is answered 503 (`spool_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("llmusage.proxy.spool")


@dataclass(eq=False)
class Segment:
    """One spool file: rows appended (or recovered), rows committed, and its open, locked descriptor."""

    path: Path
    fd: int
    own: bool  # False: an orphan recovered from a dead process
    appended: int = 0
    done: int = 0
    closed: bool = False

    def finished(self) -> bool:
        return self.closed and self.done >= self.appended


@dataclass
class Recovered:
    segment: Segment
    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)


class Spool:
    """Append-and-group-fsync files under one directory (see the module docstring)."""

    def __init__(self, directory: Path, segment_bytes: int, max_bytes: int) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.pending_rows = 0
        self.pending_bytes = 0
        self._current: Segment | None = None
        self._current_bytes = 0
        self._seq = 0
        self._dirty: set[int] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._syncing = False
        self._deferred_close: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-fsync")

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def full(self) -> bool:
        return self.pending_bytes >= self.max_bytes

    def _new_segment(self) -> Segment:
        self._seq += 1
        name = f"seg-{os.getpid()}-{self._seq:06d}.jsonl"
        tmp = self.directory / f".tmp-{name}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        final = self.directory / name
        os.rename(tmp, final)
        self._fsync_dir()
        return Segment(path=final, fd=fd, own=True)

    def _fsync_dir(self) -> None:
        dfd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def append(self, line: bytes) -> tuple[Segment, asyncio.Future[None]]:
        """Write one row; the future resolves once it is fsynced (group commit)."""
        seg = self._current
        if seg is None or self._current_bytes >= self.segment_bytes:
            if seg is not None:
                self._close(seg)
            seg = self._current = self._new_segment()
            self._current_bytes = 0
        _write_whole(seg.fd, line, self._current_bytes)
        seg.appended += 1
        self._current_bytes += len(line)
        self.pending_rows += 1
        self.pending_bytes += len(line)
        self._dirty.add(seg.fd)
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append(fut)
        if not self._syncing:
            self._syncing = True
            self._sync_task = loop.create_task(self._sync_loop())
        return seg, fut

    async def _sync_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiters:
                waiters, self._waiters = self._waiters, []
                fds, self._dirty = list(self._dirty), set()
                try:
                    await loop.run_in_executor(self._executor, _fsync_all, fds)
                except OSError as exc:
                    for w in waiters:
                        if not w.done():
                            w.set_exception(exc)
                    continue
                for w in waiters:
                    if not w.done():
                        w.set_result(None)
                self._close_deferred()
        finally:
            self._syncing = False
            self._close_deferred()

    def committed(self, seg: Segment, rows: int, nbytes: int) -> None:
        """`rows` rows of `seg` (of `nbytes` bytes) are in PostgreSQL; delete the file when all are."""
        seg.done += rows
        self.pending_rows -= rows
        self.pending_bytes -= nbytes
        if seg.finished():
            self._remove(seg)

    def rotate_if_idle(self) -> None:
        """Close the current segment when all its rows are committed, so its file can go."""
        seg = self._current
        if seg is not None and seg.done >= seg.appended and seg.fd not in self._dirty and not self._waiters:
            self._current = None
            self._close(seg)

    def _close(self, seg: Segment) -> None:
        seg.closed = True
        if seg.finished():
            self._remove(seg)

    def _remove(self, seg: Segment) -> None:
        try:
            seg.path.unlink(missing_ok=True)
        finally:
            self._dirty.discard(seg.fd)
            if self._syncing:  # an fsync round may hold this fd: close it after the round
                self._deferred_close.append(seg.fd)
            else:
                os.close(seg.fd)

    def _close_deferred(self) -> None:
        fds, self._deferred_close = self._deferred_close, []
        for fd in fds:
            os.close(fd)

    def claim_orphans(self) -> list[Recovered]:
        """Segments of dead processes (their lock is free): lock them, read their rows."""
        out: list[Recovered] = []
        for path in sorted(self.directory.glob("seg-*.jsonl")):
            if self._current is not None and path == self._current.path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if not path.exists():  # claimed and finished by someone else meanwhile
                os.close(fd)
                continue
            seg = Segment(path=path, fd=fd, own=False, closed=True)
            rec = Recovered(seg)
            with open(path, "rb") as f:
                data = f.read()
            for line in data.split(b"\n"):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    log.warning("spool %s: skipping a torn line (%d bytes)", path.name, len(line))
                    continue
                rec.rows.append(row)
                rec.lines.append(line + b"\n")
            seg.appended = len(rec.rows)
            self.pending_rows += seg.appended
            self.pending_bytes += sum(len(x) for x in rec.lines)
            if not rec.rows:
                self._remove(seg)
                continue
            out.append(rec)
        return out

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def _write_whole(fd: int, line: bytes, size: int) -> None:
    """Append `line` to a segment of `size` bytes, all of it or nothing.

    A full disk (or a file size limit) shows first as a short write: part of the line lands, and a torn
    last line would be skipped on recovery although its request was answered. So a short write is cut
    back to `size` and reported as ENOSPC, and the caller refuses the request instead.
    """
    try:
        written = os.write(fd, line)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise
    if written != len(line):
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise OSError(errno.ENOSPC, f"short write to the spool ({written} of {len(line)} bytes)")


def _fsync_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.fsync(fd)
        except OSError as exc:
            if exc.errno != 9:  # EBADF: segment already committed and closed
                raise
