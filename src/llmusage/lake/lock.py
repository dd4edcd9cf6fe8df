"""One writer at a time on a lake: an exclusive, non-blocking `flock` on `lake/.extract.lock`.

A second extract refuses at once with a clear message naming the holder (the lock file records its pid),
rather than interleaving renames and state updates with the first. The kernel drops the lock when the
holder dies, so a crashed extract never leaves the lake locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from llmusage.errors import LlmusageError
from llmusage.lake.layout import lock_path


@contextmanager
def lake_lock(lake_dir: Path) -> Iterator[None]:
    """Hold the lake's writer lock for the duration of the block, or raise LlmusageError if taken."""
    lake_dir.mkdir(parents=True, exist_ok=True)
    path = lock_path(lake_dir)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise LlmusageError(
                f"another extract is writing this lake (pid {holder} holds {path}); try again when it ends"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
