"""What every response of the proxy carries, and refusals as responses.

Every response has `x-request-id` (from `new_request_id`: a random per-process prefix and a counter, so ids
stay unique across restarts and workers) and `x-llmusage-cost` (the request's cost in USD, `0` when nothing
was forwarded). A `ProxyError` becomes its OpenAI-shaped JSON body, its status and its extra headers.
"""

from __future__ import annotations

import itertools
import uuid

from llmusage.proxy.errors import ProxyError
from llmusage.proxy.httpserver import Response

JSON = "application/json"

_ID_PREFIX = f"llmu-{uuid.uuid4().hex[:16]}-"  # random per process: ids stay unique across restarts
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER)}"


def headers(rid: str, cost: str = "0") -> dict[str, str]:
    """The headers every response carries."""
    return {"x-request-id": rid, "x-llmusage-cost": cost}


def cost_header(cost: float) -> str:
    """A cost as `x-llmusage-cost` (and the stream's closing comment) spell it."""
    return repr(float(cost))


def error_response(exc: ProxyError, rid: str) -> Response:
    return Response(
        body=exc.body(), status=exc.status, content_type=JSON, headers={**headers(rid), **exc.headers}
    )
