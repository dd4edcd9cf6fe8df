"""Management API, master key only (`LLMUSAGE_MASTER_KEY`, compared in constant time).

Request and response bodies follow LiteLLM's management API, the fields llmusage's schema can hold:
`POST /key/generate`, `GET /key/info?key=`, `POST /key/block`, `POST /key/unblock`, `POST /team/new`,
`POST /user/new`, `POST /model/new`. Keys are returned once, by /key/generate (and /user/new with
`auto_create_key`); only their SHA-256 digest is stored. Provider keys given to /model/new are stored as
given (prefer `os.environ/NAME`) and never echoed back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from llmusage import sqlfiles
from llmusage.pricing import PRICE_KEYS, PriceSchedule
from llmusage.proxy import errors
from llmusage.proxy.auth import hash_key
from llmusage.proxy.context import STATE, State
from llmusage.proxy.dbhealth import describe
from llmusage.proxy.errors import ProxyError
from llmusage.proxy.httpserver import App, Handler, Request, Response, StreamResponse
from llmusage.proxy.responses import JSON, error_response, headers, new_request_id

ROLES = {
    "admin": "admin",
    "proxy_admin": "admin",
    "user": "user",
    "internal_user": "user",
    "viewer": "viewer",
    "proxy_admin_viewer": "viewer",
    "internal_user_viewer": "viewer",
}
DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w|mo)$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 2592000}


def _check_master(request: Request) -> None:
    master = request.app[STATE].options.master_key
    auth = request.headers.get("Authorization", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("x-api-key", "")
    if not master:
        raise ProxyError(
            403,
            "management is disabled (LLMUSAGE_MASTER_KEY is not set)",
            "permission_error",
            "management_disabled",
        )
    ok = hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(master.encode()).digest()
    )
    if not given or not ok:
        raise errors.unauthorized("management routes need the master key")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.read()
    return errors.json_object(raw) if raw.strip() else {}


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.bad_request(f"'{name}' must be a string")
    return value


def _opt_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.bad_request(f"'{name}' must be an array of strings")
    return value


def _opt_float(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise errors.bad_request(f"'{name}' must be a non-negative number")
    return float(value)


def _opt_dict(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.bad_request(f"'{name}' must be an object")
    return value


def _expires(duration: Any) -> datetime | None:
    if duration is None or duration in ("", "permanent", "-1"):
        return None
    m = DURATION.match(str(duration).strip())
    if not m:
        raise errors.bad_request("'duration' must look like 30s, 15m, 24h, 30d, 2w or 1mo")
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=int(m.group(1)) * UNITS[m.group(2)])


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError


def _dumps(payload: dict[str, Any]) -> bytes:
    """orjson, or the standard library for what orjson cannot write (integers past 64 bits, which
    PostgreSQL hands back for a number like 1e20 stored in a JSONB metadata field)."""
    try:
        return orjson.dumps(payload, default=_json)
    except TypeError:
        return json.dumps(payload, default=_json, separators=(",", ":")).encode()


def _ok(payload: dict[str, Any]) -> Response:
    return Response(body=_dumps(payload), content_type=JSON, headers=headers(new_request_id()))


async def _run(request: Request, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    state: State = request.app[STATE]
    try:
        async with state.pool.connection(timeout=5.0) as conn:
            cur = await conn.execute(sqlfiles.load(sql), params)
            if cur.description is None:
                return []
            names = [d.name for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
    except psycopg.errors.ForeignKeyViolation as exc:
        detail = exc.diag.message_detail or "a referenced row does not exist"
        raise errors.bad_request(f"unknown reference: {detail}") from None
    except psycopg.errors.UniqueViolation as exc:
        detail = exc.diag.message_detail or "already exists"
        raise errors.bad_request(f"already exists: {detail}") from None
    except psycopg.errors.CheckViolation:
        raise errors.bad_request("a value is out of range") from None
    except psycopg.OperationalError as exc:
        state.failures.report("management query", describe(exc))
        raise ProxyError(
            503, "the database is unavailable", "service_unavailable", "db_unavailable"
        ) from None


def _key_info(row: dict[str, Any]) -> dict[str, Any]:
    info = dict(row)
    info["key_name"] = info.get("key_name")
    return info


async def _generate(request: Request, body: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    custom = _opt_str(body, "key")
    if custom is not None and not custom.startswith("sk-"):
        raise errors.bad_request("'key' must start with sk-")
    raw = custom or "sk-" + secrets.token_urlsafe(32)
    params = {
        "token": hash_key(raw),
        "key_name": f"sk-...{raw[-4:]}",
        "key_alias": _opt_str(body, "key_alias"),
        "user_id": _opt_str(body, "user_id") or defaults.get("user_id"),
        "team_id": _opt_str(body, "team_id") or defaults.get("team_id"),
        "permissions": Jsonb(_opt_dict(body, "permissions")),
        "max_budget": (
            _opt_float(body, "max_budget") if "key_max_budget" not in defaults else defaults["key_max_budget"]
        ),
        "models": _opt_list(body, "models"),
        "metadata": Jsonb(_opt_dict(body, "metadata")),
        "expires": _expires(body.get("duration")),
    }
    rows = await _run(request, "proxy/management/key_insert.sql", params)
    out = dict(rows[0])
    out["key"] = raw
    out["token_id"] = out["token"]
    out["duration"] = body.get("duration")
    return out


async def key_generate(request: Request) -> Response:
    _check_master(request)
    body = await _body(request)
    return _ok(await _generate(request, body, {}))


async def key_info(request: Request) -> Response:
    _check_master(request)
    key = request.query.get("key")
    if not key:
        raise errors.bad_request("pass ?key=sk-... (or the key's sha256 digest)")
    token = hash_key(key) if key.startswith("sk-") else key
    rows = await _run(request, "proxy/management/key_info.sql", {"token": token})
    if not rows:
        raise errors.not_found("no such key", "key_not_found")
    return _ok({"key": token, "info": _key_info(rows[0])})


async def _set_blocked(request: Request, blocked: bool) -> Response:
    _check_master(request)
    body = await _body(request)
    key = _opt_str(body, "key")
    if not key:
        raise errors.bad_request("'key' is required (the sk- key or its sha256 digest)")
    token = hash_key(key) if key.startswith("sk-") else key
    rows = await _run(request, "proxy/management/key_set_blocked.sql", {"token": token, "blocked": blocked})
    if not rows:
        raise errors.not_found("no such key", "key_not_found")
    request.app[STATE].keys.invalidate(token)
    return _ok(rows[0])


async def key_block(request: Request) -> Response:
    return await _set_blocked(request, True)


async def key_unblock(request: Request) -> Response:
    return await _set_blocked(request, False)


async def team_new(request: Request) -> Response:
    _check_master(request)
    body = await _body(request)
    members = _opt_list(body, "members")
    admins = _opt_list(body, "admins")
    for m in body.get("members_with_roles") or []:
        if isinstance(m, dict) and isinstance(m.get("user_id"), str):
            (admins if m.get("role") == "admin" else members).append(m["user_id"])
    blocked = body.get("blocked", False)
    if not isinstance(blocked, bool):
        raise errors.bad_request("'blocked' must be a boolean")
    params = {
        "team_id": _opt_str(body, "team_id") or "team-" + uuid.uuid4().hex[:12],
        "team_alias": _opt_str(body, "team_alias"),
        "organization_id": _opt_str(body, "organization_id"),
        "admins": admins,
        "members": members,
        "max_budget": _opt_float(body, "max_budget"),
        "models": _opt_list(body, "models"),
        "blocked": blocked,
        "metadata": Jsonb(_opt_dict(body, "metadata")),
    }
    rows = await _run(request, "proxy/management/team_insert.sql", params)
    return _ok(rows[0])


async def user_new(request: Request) -> Response:
    _check_master(request)
    body = await _body(request)
    role = _opt_str(body, "user_role") or "user"
    if role not in ROLES:
        raise errors.bad_request(f"'user_role' must be one of {sorted(ROLES)}")
    teams = _opt_list(body, "teams")
    team_id = _opt_str(body, "team_id")
    if team_id and team_id not in teams:
        teams.append(team_id)
    params = {
        "user_id": _opt_str(body, "user_id") or "user-" + uuid.uuid4().hex[:12],
        "user_email": _opt_str(body, "user_email"),
        "user_role": ROLES[role],
        "teams": teams,
        "organization_id": _opt_str(body, "organization_id"),
        "max_budget": _opt_float(body, "max_budget"),
        "metadata": Jsonb(_opt_dict(body, "metadata")),
    }
    rows = await _run(request, "proxy/management/user_insert.sql", params)
    out = dict(rows[0])
    if body.get("auto_create_key", True) is not False:
        key = await _generate(
            request,
            {k: v for k, v in body.items() if k in ("models", "duration", "key_alias", "key")},
            {"user_id": out["user_id"], "team_id": team_id, "key_max_budget": None},
        )
        out.update(
            {"key": key["key"], "token": key["token"], "expires": key["expires"], "models": key["models"]}
        )
    return _ok(out)


async def model_new(request: Request) -> Response:
    _check_master(request)
    body = await _body(request)
    name = _opt_str(body, "model_name")
    params = _opt_dict(body, "litellm_params")
    info = dict(_opt_dict(body, "model_info"))
    if not name or not isinstance(params.get("model"), str) or not params["model"]:
        raise errors.bad_request("'model_name' and 'litellm_params.model' are required")
    for price in PRICE_KEYS:  # LiteLLM accepts them in either place
        if price in params and price not in info:
            info[price] = params.pop(price)
    try:
        PriceSchedule.of(info)  # every price a non-negative number, `price_history` well formed
    except (ValueError, TypeError) as exc:
        raise errors.bad_request(str(exc)) from None
    model_id = str(info.pop("id", None) or "model-" + hashlib.sha256(name.encode()).hexdigest()[:12])
    rows = await _run(
        request,
        "proxy/management/model_upsert.sql",
        {
            "model_id": model_id,
            "model_name": name,
            "litellm_params": Jsonb(params),
            "model_info": Jsonb(info),
        },
    )
    state: State = request.app[STATE]
    await state.load_models()
    out = dict(rows[0])
    out["litellm_params"] = {k: v for k, v in out["litellm_params"].items() if k != "api_key"}
    out["model_info"] = {**out["model_info"], "id": out["model_id"]}
    return _ok(out)


def _wrap(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response | StreamResponse:
        try:
            return await handler(request)
        except ProxyError as exc:
            return error_response(exc, new_request_id())

    return wrapped


def add_routes(app: App) -> None:
    app.add_post("/key/generate", _wrap(key_generate))
    app.add_get("/key/info", _wrap(key_info))
    app.add_post("/key/block", _wrap(key_block))
    app.add_post("/key/unblock", _wrap(key_unblock))
    app.add_post("/team/new", _wrap(team_new))
    app.add_post("/user/new", _wrap(user_new))
    app.add_post("/model/new", _wrap(model_new))
