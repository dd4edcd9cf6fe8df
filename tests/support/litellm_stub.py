"""A stand-in for a LiteLLM 1.110 proxy's block/unblock management routes, on loopback, over a real LiteLLM
database: what llmusage's write-back talks to when `LLMUSAGE_LITELLM_URL` is set.

As LiteLLM defines them (`litellm/proxy/management_endpoints/key_management_endpoints.py` `block_key`,
`unblock_key`; `team_endpoints.py` `block_team`, `unblock_team` through `_set_team_blocked`):

- `POST /key/block`, `/key/unblock` with `{"key": ...}`: an `sk-` key (hashed with SHA-256 as `hash_token`
  does) or the stored digest; anything else is 400 (`is_valid_api_key`), an unknown key 404 (`Key not
  found.`). The row gets `blocked` and `settings_updated_at` (`with_settings_updated_at`), Prisma's
  `@updatedAt` stamps `updated_at`; the key's record is returned.
- `POST /team/block`, `/team/unblock` with `{"team_id": ...}`: 404 for an unknown team, else `blocked` (and
  `updated_at`) set and the team's record returned.
- `Authorization: Bearer <master key>`; another key is 401 (`auth_error`), as `user_api_key_auth` answers.
  Errors are LiteLLM's `{"error": {"message", "type", "param", "code"}}`.

Every call is recorded (`calls`), with the `xmin` of the row version it wrote, so a test can tell the
handler's write from anyone else's. `fail_call = n` answers the n-th call from then on with a 500, as a
LiteLLM whose database write failed would.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
from psycopg import sql

_ROUTES = {
    "/key/block": ("LiteLLM_VerificationToken", "token", "key", True),
    "/key/unblock": ("LiteLLM_VerificationToken", "token", "key", False),
    "/team/block": ("LiteLLM_TeamTable", "team_id", "team_id", True),
    "/team/unblock": ("LiteLLM_TeamTable", "team_id", "team_id", False),
}


@dataclass
class Call:
    route: str
    body: dict[str, Any]
    status: int
    xmin: str | None = None  # the row version this call wrote (None: it wrote nothing)


@dataclass
class LitellmStub:
    database_url: str
    master_key: str
    calls: list[Call] = field(default_factory=list)
    fail_call: int | None = None  # 1-based index of the call (counted from `reset`) answered with a 500
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LitellmStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                status, payload, xmin = stub.handle(self.path, self.headers.get("Authorization"), body)
                stub.calls.append(Call(self.path, body, status, xmin))
                data = json.dumps(payload, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self, fail_call: int | None = None) -> None:
        self.calls.clear()
        self.fail_call = fail_call

    def handle(self, path: str, auth: str | None, body: dict) -> tuple[int, dict, str | None]:
        if path not in _ROUTES:
            return 404, {"detail": "Not Found"}, None
        if auth != f"Bearer {self.master_key}":
            message = "Authentication Error, Invalid proxy server token passed"
            return 401, _error(message, "auth_error", "None", 401), None
        if self.fail_call is not None and len(self.calls) + 1 == self.fail_call:
            return (
                500,
                _error("Internal Server Error, the database write failed", "internal_server_error"),
                None,
            )
        table, id_column, field_name, blocked = _ROUTES[path]
        value = body.get(field_name)
        if not isinstance(value, str) or not value:
            return 422, {"detail": [{"loc": ["body", field_name], "msg": "Field required"}]}, None
        if field_name == "key":
            if not _valid_key(value):
                return 400, _error("Invalid key format.", "bad_request_error", "key", 400), None
            value = hashlib.sha256(value.encode()).hexdigest() if value.startswith("sk-") else value
        stamps = (
            "settings_updated_at = now(), updated_at = now()" if field_name == "key" else "updated_at = now()"
        )
        query = sql.SQL(
            "UPDATE {} SET blocked = %s, " + stamps + " WHERE {} = %s RETURNING *, xmin::text"
        ).format(sql.Identifier(table), sql.Identifier(id_column))
        with psycopg.connect(self.database_url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(query, (blocked, value))
            row = cur.fetchone()
            columns = [d.name for d in cur.description or []]
        if row is None:
            if field_name == "key":
                return 404, _error("Key not found.", "not_found_error", "key", 404), None
            return 404, {"detail": {"error": f"Team not found, passed team_id={value}"}}, None
        record = dict(zip(columns, row, strict=True))
        xmin = record.pop("xmin")
        return 200, record, xmin


def _error(message: str, type_: str, param: str | None = None, code: int = 500) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": str(code)}}


def _valid_key(key: str) -> bool:
    """LiteLLM's `is_valid_api_key`: an `sk-` key or a 64-digit hex digest, 3 to 100 characters."""
    import re

    return 3 <= len(key) <= 100 and bool(
        re.fullmatch(r"sk-[A-Za-z0-9_-]+", key) or re.fullmatch(r"[a-fA-F0-9]{64}", key)
    )
