"""The request stages in isolation: the SSE relay, the spend row's shape, window spends per entity kind.
(The package's layout, no import cycle and every SQL file named by its caller, is `tests/test_architecture.py`'s.)"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool

from llmusage.config import sql_dir
from llmusage.entities import Kind
from llmusage.proxy.auth import Principal, database_fetcher, hash_key, principal_from_row
from llmusage.proxy.context import Call
from llmusage.proxy.options import ProxyOptions
from llmusage.proxy.pricing import route_from_row
from llmusage.proxy.spend import Outcome, SpendRow
from llmusage.proxy.sse import EventRelay, client_wants_usage

JSON_MONTH = '{"budget_duration": "1mo"}'


def _principal() -> Principal:
    row = ("tok", "alias", "u1", "t1", [], None, 0.0, None, False, True, None, 0.0, {})
    row += (True, None, 0.0, [], False, "o1", None, 0.0, {}, {}, None, None, {}, None, None)
    return principal_from_row(row, 0.0)


def _event(payload: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def test_the_relay_splits_events_across_reads_and_keeps_the_usage() -> None:
    chunk = _event({"choices": [{"delta": {"content": "hi"}}], "usage": None})
    usage = _event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    stream = chunk + chunk + usage + b"data: [DONE]\n\n"
    for client_usage, relayed in ((False, [chunk, chunk]), (True, [chunk, chunk, usage])):
        relay = EventRelay(client_usage)
        out: list[bytes] = []
        for i in range(0, len(stream), 7):  # reads that cut events anywhere
            out += relay.feed(stream[i : i + 7])
        assert out == relayed
        assert relay.usage == {"prompt_tokens": 3, "completion_tokens": 2}
        assert relay.events == len(relayed)
    relay = EventRelay(False)
    assert relay.feed(chunk[:10]) == [] and relay.feed(chunk[10:]) == [chunk] and relay.usage is None
    assert client_wants_usage({"stream_options": {"include_usage": True}})
    assert not client_wants_usage({"stream_options": {"include_usage": 1}}) and not client_wants_usage({})


def test_the_spend_row_is_the_spooled_object_in_write_logs_order() -> None:
    columns = re.search(r"AS r\((.*?)\)\n", (sql_dir() / "proxy" / "write_logs.sql").read_text(), re.S)
    assert columns is not None
    names = [c.split()[0].strip('"') for c in columns.group(1).split(",")]
    route = route_from_row("m1", "chat", {"model": "openai/up"}, {"input_cost_per_token": 1e-6})
    body = {"model": "chat", "user": "end\x00user", "metadata": {"tags": ["a\x00", 2]}}
    raw = orjson.dumps(body)
    call = Call("rid-1", "chat", 0.0, _principal(), route, body, raw, 0.5, [], False)
    options = ProxyOptions(database_url="", spool_dir=Path("."), store_payload=True)
    outcome = Outcome(3, 4, 0.25, "failure", 502, "boom", upstream_status=500)
    line = SpendRow.of(call, outcome, options).line()
    assert line.endswith(b"}\n") and line.count(b"\n") == 1
    row = orjson.loads(line)
    assert list(row) == names
    assert (row["request_id"], row["api_key"], row["user"], row["team_id"]) == ("rid-1", "tok", "u1", "t1")
    assert (row["total_tokens"], row["prompt_tokens"], row["completion_tokens"], row["spend"]) == (
        7,
        3,
        4,
        0.25,
    )
    meta = row["metadata"]
    assert meta["tags"] == ["a", "2"] and meta["end_user"] == "enduser" and meta["organization_id"] == "o1"
    assert (meta["status"], meta["status_code"], meta["error"], meta["upstream_status"]) == (
        "failure",
        502,
        "boom",
        500,
    )
    assert "usage_estimated" not in meta
    assert row["payload"] == {"truncated": True, "bytes": len(raw)}  # an escaped NUL: jsonb would refuse it
    small = Call(
        "rid-2", "chat", 0.0, _principal(), route, {"model": "chat"}, b'{"model":"chat"}', 0.5, [], True
    )
    row = orjson.loads(SpendRow.of(small, Outcome(1, 0, 0.1, "success", 200, estimated=True), options).line())
    assert row["payload"] == {"model": "chat"} and row["metadata"]["usage_estimated"] is True
    assert "error" not in row["metadata"] and "upstream_status" not in row["metadata"]


def test_window_spends_per_kind(database_url: str) -> None:
    """The fetcher reads each windowed entity's spend since its window's start: key, user and team by their
    log column, the organization through its logs' teams, else their users."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with psycopg.connect(database_url) as conn:
        x = conn.execute
        x(
            """INSERT INTO "LiteLLM_OrganizationTable" (organization_id, metadata)
               VALUES ('w-org', %s), ('w-org-2', '{}')""",
            (JSON_MONTH,),
        )
        x(
            """INSERT INTO "LiteLLM_TeamTable" (team_id, organization_id, metadata)
               VALUES ('w-team', 'w-org', %s), ('w-team-2', 'w-org-2', '{}')""",
            (JSON_MONTH,),
        )
        x(
            """INSERT INTO "LiteLLM_UserTable" (user_id, organization_id, user_metadata)
               VALUES ('w-user', 'w-org', %s)""",
            (JSON_MONTH,),
        )
        x(
            """INSERT INTO "LiteLLM_VerificationToken" (token, user_id, team_id, metadata)
               VALUES (%s, 'w-user', 'w-team', %s), (%s, 'w-user', NULL, '{}')""",
            (hash_key("sk-window"), JSON_MONTH, hash_key("sk-window-2")),
        )
        logs = [
            ("sk-window", "w-team", 1.0, now),
            ("sk-window", "w-team", 100.0, now - timedelta(days=40)),  # before every window
            ("sk-window-2", None, 2.0, now),  # no team: the user's organization
            ("sk-window-2", "w-team-2", 4.0, now),  # the team's organization, not the user's
        ]
        for i, (key, team, spend, when) in enumerate(logs):
            x(
                """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, spend, "user", team_id, created_at)
                   VALUES (%s, %s, 'chat', %s, 'w-user', %s, %s)""",
                (f"w-{i}", hash_key(key), spend, team, when),
            )

    async def fetch() -> dict[tuple[Kind, str], float] | None:
        async with AsyncConnectionPool(database_url, min_size=1, kwargs={"autocommit": True}) as pool:
            fetched = await database_fetcher(pool)(hash_key("sk-window"))
        return None if fetched is None else fetched[1]

    spends = asyncio.run(fetch())
    assert spends == {
        (Kind.KEY, hash_key("sk-window")): 1.0,
        (Kind.USER, "w-user"): 7.0,
        (Kind.TEAM, "w-team"): 1.0,
        (Kind.ORGANIZATION, "w-org"): 3.0,
    }
