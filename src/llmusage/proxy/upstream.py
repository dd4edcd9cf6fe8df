"""The provider client: one pooled aiohttp session; the provider key is resolved per call, never logged."""

from __future__ import annotations

import aiohttp

from llmusage.proxy.pricing import ModelRoute

PATHS = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}


def make_session(connect_timeout: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",))


def url_for(route: ModelRoute, kind: str) -> str:
    return route.api_base + PATHS[kind]


def headers_for(route: ModelRoute) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    key = route.api_key()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers
