"""Health routes, no key needed: `GET /health` (the process answers) and `GET /health/ready` (it can serve).

`/health` is always 200 `{"status":"ok"}`. `/health/ready` is 200 when the database answers `SELECT 1`
within 2 s and the spool is not full, else 503; its body gives the database's state, the spool's depth,
bytes and limit, the number of models in the catalog and the spend logs written so far.
"""

from __future__ import annotations

import asyncio

import orjson

from llmusage.proxy.context import STATE, State
from llmusage.proxy.httpserver import Request, Response
from llmusage.proxy.responses import JSON, headers, new_request_id


async def health(request: Request) -> Response:
    return Response(body=b'{"status":"ok"}', content_type=JSON, headers=headers(new_request_id()))


async def ready(request: Request) -> Response:
    state: State = request.app[STATE]
    db_ok = True
    db_error = None
    try:
        async with asyncio.timeout(2.0), state.pool.connection(timeout=2.0) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        db_ok, db_error = False, type(exc).__name__
    spool = state.spool
    ok = db_ok and not spool.full()
    body = {
        "status": "ready" if ok else "not_ready",
        "database": "ok" if db_ok else f"unreachable ({db_error})",
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
