"""The spend stage: a forwarded call's `Outcome` becomes one `SpendRow`, settled and durably spooled.

`record` settles the call's reservation in the ledger (the estimate released, the real cost counted), then
hands the row to the writer and returns once it is fsynced in the spool; only then may the response
complete. If the spool cannot take the row (`OSError`: disk full, a file size limit), its cost is taken back
out of the ledger and the call is answered 503 `spool_error`; else the cost is added to the spend metric
(by team and model), which hence counts exactly the rows that will reach PostgreSQL.

A `SpendRow` is one `LiteLLM_SpendLogs` row exactly as spooled and as `sql/proxy/write_logs.sql` reads it:
its fields, in order, are the JSON object's keys. Its `metadata` holds what the table has no column for
(tags, end user, latency, status, call type, upstream model, the cost breakdown, ...); what the client controls is stripped of
NUL characters, which PostgreSQL's jsonb refuses. The request body is kept in `payload` only with
`store_payload`, and then only up to `payload_max_bytes` (else a `{"truncated": true, "bytes": n}` marker).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from llmusage.proxy.context import Call, State
from llmusage.proxy.errors import ProxyError
from llmusage.proxy.options import ProxyOptions

log = logging.getLogger("llmusage.proxy")


@dataclass(slots=True)
class Outcome:
    """How a forwarded call ended, as forwarding saw it."""

    prompt_tokens: int
    completion_tokens: int
    cost: float
    status: str  # success, failure, client_disconnected
    status_code: int  # the status the client was answered (200 once a stream has begun)
    error: str | None = None
    estimated: bool = False  # a stream ended without usage: prompt estimated, completion = events relayed
    upstream_status: int | None = None  # recorded when it is not 200
    breakdown: dict[str, Any] | None = None  # `llmusage.pricing.Priced.breakdown`, kept in the log's metadata
    at: float | None = (
        None  # when it was priced (epoch seconds): the log's `created_at`, so day and price agree
    )


@dataclass
class SpendRow:
    """One spend log, field for field the JSON object the spool holds (see the module docstring).

    Not slotted: orjson writes a dataclass with a `__dict__` as fast as a dict, a slotted one twice as slow."""

    request_id: str
    api_key: str
    model: str
    api_provider: str
    total_tokens: int
    prompt_tokens: int
    completion_tokens: int
    spend: float
    user: str | None
    team_id: str | None
    metadata: dict[str, Any]
    payload: dict[str, Any] | None
    created_at: str  # naive UTC, ISO 8601

    @classmethod
    def of(cls, call: Call, outcome: Outcome, options: ProxyOptions) -> SpendRow:
        body = call.body
        meta = body.get("metadata")
        tags = meta.get("tags") if isinstance(meta, dict) else None
        end_user = body.get("user")
        principal = call.principal
        route = call.route
        metadata: dict[str, Any] = {
            "tags": [_clean(t) for t in tags] if isinstance(tags, list) else [],
            "end_user": _clean(end_user) if isinstance(end_user, str) else None,
            "latency_ms": round((time.perf_counter() - call.started) * 1000, 3),
            "status": outcome.status,
            "status_code": outcome.status_code,
            "stream": call.stream,
            "call_type": call.kind,
            "key_alias": principal.key_alias,
            "organization_id": principal.org_id,
            "model_id": route.model_id,
            "upstream_model": route.upstream_model,
        }
        if outcome.error is not None:
            metadata["error"] = outcome.error
        if outcome.upstream_status is not None and outcome.upstream_status != 200:
            metadata["upstream_status"] = outcome.upstream_status
        if outcome.estimated:
            metadata["usage_estimated"] = True
        if outcome.breakdown is not None:
            metadata["cost_breakdown"] = outcome.breakdown
        payload: dict[str, Any] | None = None
        if options.store_payload:
            raw = call.raw
            small = len(raw) <= options.payload_max_bytes and b"\\u0000" not in raw
            payload = body if small and _serializable(body) else {"truncated": True, "bytes": len(raw)}
        prompt, completion = outcome.prompt_tokens, outcome.completion_tokens
        return cls(  # positionally, in field order: keywords cost 0.5 µs more per row
            call.rid,
            principal.token,
            route.model_name,
            route.provider,
            prompt + completion,
            prompt,
            completion,
            outcome.cost,
            principal.user_id,
            principal.team_id,
            metadata,
            payload,
            (datetime.now(UTC) if outcome.at is None else datetime.fromtimestamp(outcome.at, UTC))
            .replace(tzinfo=None)
            .isoformat(),
        )

    def line(self) -> bytes:
        """The row's JSON and a newline, as spooled."""
        return orjson.dumps(self, option=orjson.OPT_APPEND_NEWLINE)


def _serializable(value: Any) -> bool:
    """False for what orjson cannot write (nesting past its depth limit, e.g. inside `metadata`)."""
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


def _clean(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "") if "\x00" in text else text


async def record(state: State, call: Call, outcome: Outcome) -> None:
    """Settle the reservation and spool the row; returns once the row is fsynced."""
    row = SpendRow.of(call, outcome, state.options)
    cost = outcome.cost
    entities, call.entities = call.entities, []
    state.ledger.settle(entities, call.estimate, cost)
    try:
        await state.writer.submit(row.line(), cost, entities)
    except OSError as exc:
        for entity in entities:  # never written: its cost must not count against the budgets
            state.ledger.forget_uncommitted(entity, cost)
        log.error("cannot spool a spend log (%s: %s)", type(exc).__name__, exc.strerror or exc)
        raise ProxyError(
            503, "the proxy cannot record spend (local spool)", "service_unavailable", "spool_error"
        ) from None
    metrics = state.metrics
    if metrics is not None:
        metrics.spent(call.principal.team_id, call.route.model_name, cost)
