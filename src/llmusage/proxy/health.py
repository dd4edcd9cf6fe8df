"""Health routes, no key needed: `GET /health` (the process answers) and `GET /health/ready` (it can serve).

`/health` is always 200 `{"status":"ok"}`. `/health/ready` is 200 only when all of these hold, else 503
with `reason` naming each that does not (causes as `dbhealth.describe` gives them: PostgreSQL's message and
SQLSTATE):
- the database answers `SELECT 1` within 2 s;
- the most recent key lookup worked (`dbhealth.Lookups`). While it failed, each probe retries that same
  lookup (one key digest, only then: the ready path costs nothing extra while lookups work), so readiness
  comes back as soon as lookups do, with or without traffic;
- the most recent spend write worked (the writer retries on its own, with backoff);
- the spool is not full.
The body also gives the lookups' and writes' state, the spool's depth, bytes and limit, the number of
models in the catalog and the spend logs written so far.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson

from llmusage.proxy.context import STATE, State
from llmusage.proxy.dbhealth import describe
from llmusage.proxy.httpserver import Request, Response
from llmusage.proxy.responses import JSON, headers, new_request_id


async def health(request: Request) -> Response:
    return Response(body=b'{"status":"ok"}', content_type=JSON, headers=headers(new_request_id()))


async def ready(request: Request) -> Response:
    state: State = request.app[STATE]
    db_error = None
    try:
        async with asyncio.timeout(2.0), state.pool.connection(timeout=2.0) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        db_error = describe(exc)
    lookups = state.lookups
    if lookups.error is not None and db_error is None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await lookups.recheck()
    writer, spool = state.writer, state.spool
    reasons = []
    if db_error is not None:
        reasons.append(f"database unreachable: {db_error}")
    if lookups.error is not None:
        reasons.append(f"key lookups failing: {lookups.error}")
    if not writer.db_ok:
        reasons.append(f"spend writes failing: {writer.last_error}")
    if spool.full():
        reasons.append("spool full")
    ok = not reasons
    body: dict[str, object] = {"status": "ready" if ok else "not_ready"}
    if not ok:
        body["reason"] = "; ".join(reasons)
    body |= {
        "database": "ok" if db_error is None else f"unreachable ({db_error})",
        "lookups": lookups.status(),
        "writes": {"status": "ok"} if writer.db_ok else {"status": "failing", "error": writer.last_error},
        "spool": {
            "depth": spool.pending_rows,
            "bytes": spool.pending_bytes,
            "max_bytes": spool.max_bytes,
            "full": spool.full(),
        },
        "models": len(state.models),
        "written": state.writer.written,
    }
    return Response(
        body=orjson.dumps(body),
        status=200 if ok else 503,
        content_type=JSON,
        headers=headers(new_request_id()),
    )
