"""OpenAI-shaped errors: `{"error": {"message", "type", "code"}}` with an HTTP status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class ProxyError(Exception):
    """A refusal or failure to return to the client as an OpenAI-shaped JSON error."""

    status: int
    message: str
    type: str
    code: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        return orjson.dumps({"error": {"message": self.message, "type": self.type, "code": self.code}})


def unauthorized(message: str = "invalid or missing API key") -> ProxyError:
    return ProxyError(401, message, "authentication_error", "invalid_api_key")


def forbidden(message: str, code: str) -> ProxyError:
    return ProxyError(403, message, "permission_error", code)


def budget_exceeded(message: str) -> ProxyError:
    return ProxyError(429, message, "budget_exceeded", "budget_exceeded", {"x-should-retry": "false"})


def bad_request(message: str) -> ProxyError:
    return ProxyError(400, message, "invalid_request_error", "invalid_request")


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object; anything else is a 400."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def not_found(message: str, code: str = "not_found") -> ProxyError:
    return ProxyError(404, message, "invalid_request_error", code)


def spool_full() -> ProxyError:
    return ProxyError(
        503,
        "the proxy cannot record spend right now (local spool full); retry later",
        "service_unavailable",
        "spool_full",
    )
