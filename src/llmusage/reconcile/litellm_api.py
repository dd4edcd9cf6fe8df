"""Blocking and unblocking through a LiteLLM proxy's own management API, so its caches see it at once.

`POST /key/block` and `/key/unblock` take `{"key": <hashed token>}` (LiteLLM accepts the stored digest as well
as the `sk-` key: `proxy/management_endpoints/key_management_endpoints.py`), `/team/block` and
`/team/unblock` take `{"team_id": ...}`; the master key authenticates (`Authorization: Bearer`). Used when
`LLMUSAGE_LITELLM_URL` and `LLMUSAGE_LITELLM_MASTER_KEY` are set; without them write-back updates the
`blocked` column itself, which LiteLLM reads only when its cached copy of the key or team expires.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from llmusage.errors import LlmusageError

CACHE_DELAY = "LiteLLM serves a cached key or team for up to its user_api_key_cache_ttl (60 s by default)"
"""What a write straight into the table costs: how long LiteLLM may go on using its cached copy."""

_ROUTES = {("key", True): "/key/block", ("key", False): "/key/unblock",
           ("team", True): "/team/block", ("team", False): "/team/unblock"}  # fmt: skip


@dataclass(frozen=True)
class LitellmApi:
    url: str
    master_key: str
    timeout: float = 10.0

    def set_blocked(self, kind: str, entity_id: str, blocked: bool) -> None:
        """Block or unblock one key (by its hashed token) or team; a refusal is a LlmusageError."""
        route = _ROUTES.get((kind, blocked))
        if route is None:
            raise LlmusageError(f"LiteLLM cannot block a {kind}")
        body = {"key": entity_id} if kind == "key" else {"team_id": entity_id}
        request = urllib.request.Request(
            self.url.rstrip("/") + route,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.master_key}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:200]
            raise LlmusageError(
                f"LiteLLM refused {route} for {kind} {entity_id}: HTTP {exc.code} {detail}"
            ) from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise LlmusageError(f"LiteLLM's management API at {self.url} is unreachable: {exc}") from exc
