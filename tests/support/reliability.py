"""Shared pieces of the reliability tests: a priced model and keys in a database, a load loop, lookups.

Everything runs on loopback; every loop here is bounded in count and in time.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from support.proxy import http, sha

INPUT_COST = 1e-6
OUTPUT_COST = 3e-6


def add_model(conn: psycopg.Connection, mock_url: str, name: str = "chat") -> None:
    params = {"model": "openai/up", "api_base": mock_url, "api_key": "os.environ/MOCK_PROVIDER_KEY"}
    info = {"input_cost_per_token": INPUT_COST, "output_cost_per_token": OUTPUT_COST}
    conn.execute(
        """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (model_id) DO UPDATE SET litellm_params = EXCLUDED.litellm_params""",
        (f"m-{name}", name, json.dumps(params), json.dumps(info)),
    )


def add_key(
    conn: psycopg.Connection,
    raw: str,
    team: str | None = None,
    user: str | None = None,
    max_budget: float | None = None,
    spend: float = 0.0,
) -> None:
    conn.execute(
        """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, max_budget, spend)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (sha(raw), f"alias-{raw[-6:]}", user, team, max_budget, spend),
    )


def chat(
    url: str,
    key: str,
    content: Any = "hello",  # any JSON: a string, content parts, or something hostile
    max_tokens: int = 4,
    timeout: float = 10.0,
    extra_headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    body = {"model": "chat", "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **(extra_headers or {})}
    return http("POST", url + "/v1/chat/completions", body, headers, timeout=timeout)


@dataclass
class Load:
    """Threads calling the proxy in a loop until stopped (bounded by `max_seconds`), recording outcomes."""

    url: str
    keys: list[str]
    threads: int = 6
    max_seconds: float = 120.0
    ok: list[str] = field(default_factory=list)  # x-request-id of every 200
    statuses: Counter[Any] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _run(self, i: int) -> None:
        deadline = time.monotonic() + self.max_seconds
        n = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            n += 1
            try:
                status, headers, body = chat(self.url, self.keys[i % len(self.keys)], f"w{i} n{n}", 1 + n % 5)
            except OSError as exc:  # timeouts and refused connections: not clean
                with self._lock:
                    self.statuses[type(exc).__name__] += 1
                time.sleep(0.01)
                continue
            with self._lock:
                self.statuses[status] += 1
                if status == 200:
                    self.ok.append(headers["x-request-id"])
                else:
                    try:
                        self.codes[json.loads(body)["error"]["code"]] += 1
                    except (ValueError, KeyError, TypeError):
                        self.codes["<not json>"] += 1
            if status != 200:
                time.sleep(0.005)

    def start(self) -> Load:
        self._workers = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)
        ]
        for t in self._workers:
            t.start()
        return self

    def count(self) -> int:
        with self._lock:
            return len(self.ok)

    def stop(self) -> None:
        """Stop and wait for every thread (its last request included), bounded."""
        self._stop.set()
        deadline = time.monotonic() + 30
        for t in self._workers:
            t.join(max(0.1, deadline - time.monotonic()))
        alive = sum(t.is_alive() for t in self._workers)
        assert not alive, f"{alive} load threads still running"


def rows_per_request(conn: psycopg.Connection, request_ids: list[str]) -> dict[str, int]:
    rows = conn.execute(
        'SELECT request_id, count(*) FROM "LiteLLM_SpendLogs" WHERE request_id = ANY(%s) GROUP BY 1',
        (request_ids,),
    ).fetchall()
    return {rid: n for rid, n in rows}


def drained(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            status, _, body = http("GET", url + "/health/ready", timeout=3)
        except OSError:
            return False
        return status == 200 and json.loads(body)["spool"]["depth"] == 0

    return check
