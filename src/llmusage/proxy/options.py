"""Tunables of one proxy process, set from the command line (never from the environment at import)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProxyOptions:
    """Everything a proxy process needs besides the request stream itself."""

    database_url: str
    spool_dir: Path
    master_key: str | None = None
    cache_ttl: float = 2.0  # seconds a key/user/team/org row (and the model catalog) is trusted
    upstream_timeout: float = 600.0  # seconds for the whole upstream call (504 when exceeded)
    connect_timeout: float = 10.0
    spool_max_bytes: int = 256 * 1024 * 1024  # beyond this many unwritten bytes: 503 for new requests
    segment_bytes: int = 4 * 1024 * 1024  # spool segment rotation size
    batch_max: int = 500  # spend logs per database transaction
    batch_wait: float = 0.05  # seconds the writer waits to fill a batch
    store_payload: bool = False  # keep the request body in LiteLLM_SpendLogs.payload
    payload_max_bytes: int = 16 * 1024  # larger bodies are stored truncated (as a marker object)
    default_completion_tokens: int = 256  # reservation estimate when the request sets no max_tokens
    drain_abandoned: float = 10.0  # seconds to keep reading an abandoned stream for its usage
    metrics: bool = True  # GET /metrics and the counting behind it (proxy/metrics.py)
    metrics_max_series: int = 1000  # cap on budget entities and on (team, model) spend pairs per worker
    metrics_dir: Path | None = None  # set by server.serve with several workers: their snapshots, merged
