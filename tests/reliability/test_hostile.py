"""Hostile input against a real proxy on loopback and against the CLI: nothing crashes, nothing is executed,
no key leaks, nobody but the master key manages.

- bodies and headers fuzzed with hypothesis (bounded examples): never a 500, always an OpenAI-shaped error
  or a 200, and the proxy stays healthy;
- oversized bodies (413), deeply nested JSON, invalid UTF-8, CR/LF in every client-controlled value
  (never echoed into a response header);
- SQL injection in every management field: stored verbatim as data;
- management routes refuse every key but the master key; the comparison is `hmac.compare_digest`;
- the raw keys used here never appear in the proxy's log, in error bodies, in spend logs or in the lake;
- CLI: path traversal in every `--out`, SQL injection in `report spend --where/--by`.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmusage.lake.extract import extract
from support.db import run_cli
from support.proxy import http, proxy_env, sha, start_mock, start_proxy, wait_for
from support.reliability import add_key, add_model, chat

pytestmark = pytest.mark.slow  # a fault, outage, crash or soak test: left out of `make test-fast`

USER_KEY = "sk-hostile-user-key-" + "h" * 16
MASTER = "sk-master-test"  # proxy_env's LLMUSAGE_MASTER_KEY
PROVIDER = "sk-provider-secret-never-logged"  # proxy_env's MOCK_PROVIDER_KEY
WRONG_KEYS = [
    "sk-wrong-" + "w" * 20,
    MASTER + "x",
    MASTER[:-1],
    MASTER.upper(),
    " " + MASTER + "x",
    USER_KEY,
]
INJECTIONS = [
    'x\'; DROP TABLE "LiteLLM_SpendLogs"; --',
    "' OR '1'='1",
    'a"); DELETE FROM "LiteLLM_VerificationToken"; --',
    '$$; TRUNCATE "LiteLLM_TeamTable"; $$',
    "\\x00\\'; SELECT pg_sleep(10); --",
]
SETTINGS = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)
ERRORS_SEEN: list[bytes] = []  # every error body the tests received, grepped for keys at the end


@pytest.fixture(scope="module")
def proxy(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("hostile")
    env = proxy_env(database_url, tmp / "home")
    mock = start_mock(tmp, env)
    server = None
    try:
        with psycopg.connect(database_url) as conn:
            conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id) VALUES ('t-h')""")
            add_key(conn, USER_KEY, team="t-h", max_budget=100)
            add_model(conn, mock.url + "/v1")
        server = start_proxy(tmp, env, "--store-payload")
        state = {"url": server.url, "server": server, "db": database_url, "tmp": tmp, "generated": []}
        yield state
        # After every test of the module, whatever order they ran in: no raw key anywhere yet.
        leaks = _leaks(state)
        assert not leaks, f"raw keys leaked: {leaks}"
    finally:
        if server is not None:
            server.stop()
        mock.stop()


def _check(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status != 500, body
    assert headers.get("x-request-id", "").startswith("llmu-"), headers
    if status != 200:
        ERRORS_SEEN.append(body)
        error = json.loads(body)["error"]
        assert isinstance(error["message"], str) and isinstance(error["code"], str)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"model": st.sampled_from(["chat", "nope", ""]) | st.text(max_size=10)},
        optional={
            "messages": json_values,
            "prompt": json_values,
            "input": json_values,
            "stream": json_values,
            "max_tokens": st.integers(-5, 50) | json_values,
            "user": json_values,
            "metadata": json_values,
        },
    ).map(lambda v: json.dumps(v).encode()),
)


def test_fuzzed_bodies_never_500(proxy: dict[str, Any]) -> None:
    routes = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/key/generate", "/team/new"]

    @SETTINGS
    @given(body=bodies, route=st.sampled_from(routes))
    def run(body: bytes, route: str) -> None:
        key = MASTER if not route.startswith("/v1") else USER_KEY
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        status, resp_headers, resp = http("POST", proxy["url"] + route, raw=body, headers=headers)
        _check(status, resp_headers, resp)
        if status == 200 and route == "/key/generate":
            proxy["generated"].append(json.loads(resp)["key"])

    run()
    assert http("GET", proxy["url"] + "/health/ready")[0] == 200


header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=60
)


def test_fuzzed_headers_never_500(proxy: dict[str, Any]) -> None:
    @SETTINGS
    @given(
        auth=header_text,
        extra=st.dictionaries(st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,20}\Z"), header_text, max_size=5),
        mgmt=st.booleans(),
    )
    def run(auth: str, extra: dict[str, str], mgmt: bool) -> None:
        headers = {
            k: v.strip()
            for k, v in extra.items()
            if k.lower() not in ("content-length", "transfer-encoding", "host", "connection", "expect")
        }
        headers["Authorization"] = auth.strip()
        url = proxy["url"] + ("/key/generate" if mgmt else "/v1/chat/completions")
        body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
        status, resp_headers, resp = http("POST", url, body, headers)
        _check(status, resp_headers, resp)
        assert status in (400, 401, 403), (status, resp)  # no fuzzed credential is valid

    run()


def _raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_oversized_body_is_413(proxy: dict[str, Any]) -> None:
    port = proxy["server"].port
    size = 33 * 1024 * 1024
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {USER_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(head)
        sent = 0
        block = b" " * (1024 * 1024)
        try:
            while sent < size:
                s.sendall(block)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection after its 413
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert http("GET", proxy["url"] + "/health")[0] == 200


def test_deep_nesting_and_invalid_utf8_are_400(proxy: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {USER_KEY}", "Content-Type": "application/json"}
    url = proxy["url"] + "/v1/chat/completions"
    for raw in (
        b"[" * 200_000 + b"]" * 200_000,
        b'{"model":"chat","messages":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"model":"chat\xff\xfe","messages":[{"role":"user","content":"x"}]}',
        b'{"model":"chat","messages":[{"role":"user","content":"\xc3\x28"}]}',
        b'{"model":"chat","messages":[{"role":"user","content":"\\ud800"}]}',
    ):
        status, resp_headers, body = http("POST", url, raw=raw, headers=headers)
        _check(status, resp_headers, body)
        assert status == 400, (raw[:60], body)
    # nesting the JSON parser accepts (under its depth limit) goes through or fails cleanly
    nested: Any = "deep"
    for _ in range(200):
        nested = {"a": [nested]}
    status, resp_headers, body = chat(proxy["url"], USER_KEY, content=nested)
    _check(status, resp_headers, body)
    assert status == 400 and b"nested too deeply" in body  # was a 500 (orjson parses 1024 levels, writes 254)
    # the same depth in `metadata` (not sent upstream) is served, and the stored payload is a marker
    deep = {
        "model": "chat",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 1,
        "metadata": {"tags": ["deep"], "x": nested},
    }
    status, resp_headers, body = http("POST", url, deep, headers)
    _check(status, resp_headers, body)
    assert status == 200, body
    rid = resp_headers["x-request-id"]

    def stored() -> Any:
        with psycopg.connect(proxy["db"]) as conn:
            row = conn.execute(
                'SELECT payload FROM "LiteLLM_SpendLogs" WHERE request_id = %s', (rid,)
            ).fetchone()
        return row

    row = wait_for(stored, timeout=20)
    assert row is not None and row[0]["truncated"] is True
    # invalid UTF-8 in a header value (the parser reads headers as latin-1)
    reply = _raw(
        proxy["server"].port,
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-\xff\xfe\xc3\x28\r\nConnection: close\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]


def test_crlf_is_never_echoed_into_headers(proxy: dict[str, Any]) -> None:
    evil = "chat\r\nSet-Cookie: pwned=1\r\nX-Injected: yes"
    body = {
        "model": evil,
        "messages": [{"role": "user", "content": evil}],
        "user": evil,
        "metadata": {"tags": [evil]},
        "max_tokens": 1,
    }
    headers = {"Authorization": f"Bearer {USER_KEY}", "X-Request-Id": "client\tcontrolled"}
    for payload in (body, {**body, "model": "chat"}):
        status, resp_headers, resp = http("POST", proxy["url"] + "/v1/chat/completions", payload, headers)
        _check(status, resp_headers, resp)
        assert "set-cookie" not in resp_headers and "x-injected" not in resp_headers
        assert resp_headers["x-request-id"].startswith("llmu-")  # never the client's
    # a CR/LF pair smuggled in the path, percent-encoded and raw
    for path in (b"/v1/x%0d%0aSet-Cookie:%20pwned=1", b"/v1/x\rSet-Cookie: pwned=1"):
        reply = _raw(
            proxy["server"].port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        head = reply.split(b"\r\n\r\n", 1)[0].lower()
        assert b"set-cookie" not in head, reply[:300]
        assert reply.startswith((b"HTTP/1.1 404", b"HTTP/1.1 400")), reply[:100]

    # the logged row carries the value as data
    def logged() -> bool:
        with psycopg.connect(proxy["db"]) as conn:
            return bool(
                conn.execute(
                    """SELECT 1 FROM "LiteLLM_SpendLogs" WHERE metadata->>'end_user' = %s
                       AND metadata->'tags' = jsonb_build_array(%s::text)""",
                    (evil, evil),
                ).fetchall()
            )

    assert wait_for(logged, timeout=20)


def test_management_refuses_every_key_but_the_master(proxy: dict[str, Any]) -> None:
    routes = [("POST", "/key/generate"), ("GET", "/key/info?key=" + USER_KEY), ("POST", "/key/block"),
              ("POST", "/key/unblock"), ("POST", "/team/new"), ("POST", "/user/new"), ("POST", "/model/new")]  # fmt: skip
    for method, route in routes:
        for key in WRONG_KEYS:
            for header in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}, {}):
                status, resp_headers, body = http(
                    method, proxy["url"] + route, {} if method == "POST" else None, header
                )
                _check(status, resp_headers, body)
                assert status == 401, (route, key, body)
    status, _, body = http(
        "GET", proxy["url"] + "/key/info?key=" + USER_KEY, headers={"Authorization": f"Bearer {MASTER}"}
    )
    assert status == 200, body


def test_master_key_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """`_check_master` decides with hmac.compare_digest (on digests of equal length), and only with it."""
    import hmac

    from llmusage.proxy import management
    from llmusage.proxy.context import STATE
    from llmusage.proxy.errors import ProxyError

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(management.hmac, "compare_digest", spy)

    class Options:
        master_key = MASTER

    class Request:
        def __init__(self, auth: str) -> None:
            self.app = {STATE: type("S", (), {"options": Options})()}
            self.headers = {"Authorization": auth}

    management._check_master(Request(f"Bearer {MASTER}"))  # type: ignore[arg-type]
    for key in WRONG_KEYS:
        with pytest.raises(ProxyError):
            management._check_master(Request(f"Bearer {key}"))  # type: ignore[arg-type]
    assert len(calls) == 1 + len(WRONG_KEYS)
    assert all(len(a) == len(b) == 32 for a, b in calls)  # fixed-length digests: no length leak
    source = Path(management.__file__).read_text()
    assert "== master" not in source and "master ==" not in source


def test_sql_injection_in_management_fields_is_stored_as_data(proxy: dict[str, Any]) -> None:
    master = {"Authorization": f"Bearer {MASTER}"}
    url = proxy["url"]
    with psycopg.connect(proxy["db"]) as conn:
        tables_before = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[
            0
        ]
        keys_before = conn.execute('SELECT count(*) FROM "LiteLLM_VerificationToken"').fetchone()[0]
    for i, evil in enumerate(INJECTIONS):
        status, _, body = http(
            "POST", url + "/team/new", {"team_id": evil, "team_alias": evil, "metadata": {evil: evil}}, master
        )
        assert status == 200, body
        status, _, body = http(
            "POST",
            url + "/user/new",
            {
                "user_id": evil,
                "user_email": evil,
                "team_id": evil,
                "metadata": {"x": evil},
                "key_alias": evil,
            },
            master,
        )
        assert status == 200, body
        proxy["generated"].append(json.loads(body)["key"])
        status, _, body = http(
            "POST",
            url + "/key/generate",
            {"key_alias": evil, "team_id": evil, "user_id": evil, "metadata": {evil: [evil]}},
            master,
        )
        assert status == 200, body
        proxy["generated"].append(json.loads(body)["key"])
        model = {
            "model_name": f"m{i}{evil}",
            "litellm_params": {"model": f"openai/{evil}", "api_base": evil},
            "model_info": {"input_cost_per_token": 0, "note": evil},
        }
        status, _, body = http("POST", url + "/model/new", model, master)
        assert status == 200, body
    with psycopg.connect(proxy["db"]) as conn:
        assert (
            conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
            == tables_before
        )
        for evil in INJECTIONS:
            team = conn.execute(
                """SELECT team_alias, metadata FROM "LiteLLM_TeamTable" WHERE team_id = %s""", (evil,)
            ).fetchone()
            assert team == (evil, {evil: evil})
            user = conn.execute(
                """SELECT user_email FROM "LiteLLM_UserTable" WHERE user_id = %s""", (evil,)
            ).fetchone()
            assert user == (evil,)
            aliases = conn.execute(
                """SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE key_alias = %s AND team_id = %s""",
                (evil, evil),
            ).fetchone()[0]
            assert aliases == 2
            model = conn.execute(
                """SELECT litellm_params->>'api_base' FROM "LiteLLM_ProxyModelTable" WHERE model_name LIKE %s""",
                ("%" + evil.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"),),
            ).fetchone()
            assert model == (evil,)
        keys_after = conn.execute('SELECT count(*) FROM "LiteLLM_VerificationToken"').fetchone()[0]
        assert keys_after >= keys_before + 2 * len(INJECTIONS)
    # the injected keys work as ordinary keys (their team exists, by its odd name)
    status, _resp_headers, body = chat(url, proxy["generated"][-1], "after injection", 2)
    assert status == 200, body


def test_cli_out_paths_stay_where_asked(
    proxy: dict[str, Any], cli_env: dict[str, str], tmp_path: Path
) -> None:
    for _ in range(3):
        assert chat(proxy["url"], USER_KEY, "for the lake")[0] == 200
    assert run_cli("extract", env=cli_env).returncode == 0
    base = tmp_path / "out"
    (base / "sub").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    (base / "link.csv").symlink_to(victim)

    def tree() -> set[str]:
        return {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}

    before = tree()
    # `..` inside the path: written exactly where the path resolves, nowhere else
    r = run_cli("report", "spend", "--out", str(base / "sub" / ".." / "r.csv"), env=cli_env)
    assert r.returncode == 0, r.stderr
    assert tree() - before == {"out/r.csv"}
    # a symlink as target is replaced, its target never written through
    r = run_cli("report", "spend", "--out", str(base / "link.csv"), env=cli_env)
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "untouched" and not (base / "link.csv").is_symlink()
    # a missing directory, a directory, traversal to a missing place: refused, nothing written
    before = tree()
    (base / "d.png").mkdir()
    before = tree()
    for out in (base / "nope" / "r", base / "d.png", base / ".." / ".." / "no-such-dir-xyz" / "r"):
        for args in (("report", "spend", "--out", f"{out}"), ("report", "chart", "--out", f"{out}.png")):
            if out.name == "d.png":
                args = (*args[:-1], str(out))
            r = run_cli(*args, env=cli_env)
            assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
            assert r.stderr.startswith("llmusage: error: --out"), r.stderr
    r = run_cli("report", "chart", "--out", str(base / "x.sh"), env=cli_env)
    assert r.returncode != 0 and "must end in .png or .html" in r.stderr
    assert tree() == before
    # chargeback: --out is a base directory; month and dimension cannot climb out of it
    for month in ("../../x", "2026-03/../..", "2026-13"):
        r = run_cli("chargeback", "--month", month, "--out", str(base), env=cli_env)
        assert r.returncode != 0 and "--month must be YYYY-MM" in r.stderr, r.stderr
    r = run_cli("chargeback", "--month", "2026-03", "--by", "../team", "--out", str(base), env=cli_env)
    assert r.returncode != 0
    assert tree() == before
    r = run_cli(  # the lake has no March: an empty closed month, frozen only when asked
        "chargeback", "--month", "2026-03", "--out", str(base / "sub" / ".."), "--allow-empty", env=cli_env
    )
    assert r.returncode == 0, r.stderr
    assert {p for p in tree() - before} <= {"out/2026-03", "out/2026-03/team"} | {
        f"out/2026-03/team/{n}"
        for n in ("chargeback.csv", "chargeback.parquet", "summary.md", "manifest.json")
    }


def test_cli_filters_are_never_sql(proxy: dict[str, Any], cli_env: dict[str, str]) -> None:
    for _ in range(3):  # logs of its own to report on, whatever ran before
        assert chat(proxy["url"], USER_KEY, "for the filters")[0] == 200
    assert run_cli("extract", env=cli_env).returncode == 0
    baseline = run_cli("report", "spend", "--format", "json", env=cli_env)
    assert baseline.returncode == 0, baseline.stderr
    total = json.loads(baseline.stdout)["totals"]
    by_team = json.loads(baseline.stdout)["rows"]
    for evil in INJECTIONS:
        for where in (f"team={evil}", f"team!={evil}", f"key={evil}", f"tag={evil}"):
            r = run_cli("report", "spend", "--where", where, "--format", "json", env=cli_env)
            if r.returncode == 1:  # a value that names nothing is refused, as data: never run, never SQL
                assert r.stderr.startswith("llmusage: error: --where ") and " is named " in r.stderr
                assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
                continue
            assert r.returncode == 0, r.stderr
            rows = json.loads(r.stdout)["rows"]
            if where == f"team!={evil}":  # every row but those of the team named so (a key was made there)
                expected = sum(row["requests"] for row in by_team if row["team"] != evil)
                assert json.loads(r.stdout)["totals"]["requests"] == expected
            elif where == f"team={evil}":
                assert [row["team"] for row in rows] in ([], [evil])
            elif where.startswith("key="):  # a key is named by its alias too: the key made with that alias
                assert sum(row["requests"] for row in rows) <= total["requests"]
            elif "!=" not in where:
                assert rows == []
        for args in (
            ("--by", f"team,{evil}"),
            ("--by", evil),
            ("--where", f"{evil}=x"),
            ("--where", f"team{evil}"),
        ):
            r = run_cli("report", "spend", *args, env=cli_env)
            assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
            assert r.stderr.startswith("llmusage: error:"), r.stderr
    with psycopg.connect(proxy["db"]) as conn:
        assert conn.execute('SELECT count(*) FROM "LiteLLM_SpendLogs"').fetchone()[0] > 0
    after = run_cli("report", "spend", "--format", "json", env=cli_env)
    again = json.loads(after.stdout)["totals"]
    assert again["requests"] == total["requests"] and again["spend"] == total["spend"]  # decimal strings


def _leaks(proxy: dict[str, Any], lake: Path | None = None) -> dict[str, list[str]]:
    """Raw keys found in the proxy's log, every error body received, spend logs, the key table and (if
    given) a lake extracted from them."""
    secrets = {USER_KEY, MASTER, PROVIDER, *WRONG_KEYS, *proxy["generated"]}
    secrets = {s for s in secrets if len(s) >= 12}
    texts = {
        "proxy log": proxy["server"].log.read_text(errors="replace"),
        "error bodies": b"\n".join(ERRORS_SEEN).decode(errors="replace"),
    }
    with psycopg.connect(proxy["db"]) as conn:
        texts["spend logs"] = "\n".join(
            r[0] for r in conn.execute("""SELECT row_to_json(l)::text FROM "LiteLLM_SpendLogs" l""")
        )
        texts["key table"] = "\n".join(
            r[0] for r in conn.execute("""SELECT row_to_json(t)::text FROM "LiteLLM_VerificationToken" t""")
        )
    if lake is not None:
        extract(proxy["db"], lake, None)
        texts["lake"] = "\n".join(str(pq.read_table(f).to_pylist()) for f in lake.rglob("*.parquet"))
        texts["lake"] += "\n".join(f.read_text() for f in lake.rglob("*.json"))
    return {
        name: sorted(s for s in secrets if s in text)
        for name, text in texts.items()
        if any(s in text for s in secrets)
    }


def test_keys_never_leak(proxy: dict[str, Any], tmp_path: Path) -> None:
    """Keys of every kind, right and wrong, made and used here (whatever ran before): none is anywhere in
    clear, the lake included. The module's fixture checks again after the last test, whichever it is."""
    master = {"Authorization": f"Bearer {MASTER}"}
    for i in range(3):
        status, _, body = http(
            "POST", proxy["url"] + "/key/generate", {"key_alias": f"leak-{i}", "team_id": "t-h"}, master
        )
        assert status == 200, body
        proxy["generated"].append(json.loads(body)["key"])
    before = len(ERRORS_SEEN)
    for key in [USER_KEY, *WRONG_KEYS, *proxy["generated"][-3:]]:
        status, _headers, body = chat(proxy["url"], key, "leak check", 1)
        if status != 200:
            ERRORS_SEEN.append(body)
        status, _, body = http("POST", proxy["url"] + "/key/generate", {}, {"Authorization": f"Bearer {key}"})
        assert status == 401, body  # only the master key manages
        ERRORS_SEEN.append(body)
    assert len(ERRORS_SEEN) - before > len(WRONG_KEYS)
    with psycopg.connect(proxy["db"], autocommit=True) as conn:  # the 200's log is written after the answer
        query = """SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE api_key = %s"""
        assert wait_for(lambda: conn.execute(query, (sha(USER_KEY),)).fetchone()[0] > 0)
    assert _leaks(proxy, tmp_path / "lake") == {}
    lake = "\n".join(str(pq.read_table(f).to_pylist()) for f in (tmp_path / "lake").rglob("*.parquet"))
    assert sha(USER_KEY) in lake  # what was grepped holds the logs, by the key's digest
