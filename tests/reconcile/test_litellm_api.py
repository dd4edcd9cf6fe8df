"""Write-back through LiteLLM's management API (`LitellmApi`): a LiteLLM database built by LiteLLM's own
migrations and filled as LiteLLM 1.110 writes it (`seed_litellm`), and a real HTTP server on loopback that
answers `/key/block`, `/key/unblock`, `/team/block`, `/team/unblock` as LiteLLM does and applies them to
that database (`support.litellm_stub`).

The tests are an operator's successive runs on one database, in file order: a wrong master key and an API
that fails midway or is down (nothing written, LiteLLM's blocks as they were), then `llmusage reconcile
--apply` with `LLMUSAGE_LITELLM_URL` set (exactly the keys and teams LiteLLM refuses are blocked, each by
one API call, and no row written by llmusage itself), an admin's unblock that stands, and a raised budget
whose block llmusage lifts through `/key/unblock`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from llmusage.devtools.seed.litellm import LitellmScenario, seed_litellm
from llmusage.errors import LlmusageError
from llmusage.pg.migrations import migrate
from llmusage.reconcile import ApplyReport, ReconcileOptions, reconcile, write_back
from llmusage.reconcile.litellm_api import LitellmApi
from support.db import cli_env_for, run_cli
from support.litellm_stub import LitellmStub
from support.proxy import closed_port

NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)  # the CLI reconciles at the database's clock
MASTER = "sk-litellm-master-e2e"
ROUTE_KIND = {"/key/block": "key", "/key/unblock": "key", "/team/block": "team", "/team/unblock": "team"}


@pytest.fixture(scope="module")
def scenario(litellm_database_url: str) -> LitellmScenario:
    with psycopg.connect(litellm_database_url) as conn:
        scenario = seed_litellm(conn, now=NOW, seed=11)
    with psycopg.connect(litellm_database_url, autocommit=True) as conn:
        migrate(conn)  # `llmusage db migrate`: llmusage's own schema
    return scenario


@pytest.fixture(scope="module")
def stub(litellm_database_url: str):
    stub = LitellmStub(litellm_database_url, MASTER).start()
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture
def fresh(scenario: LitellmScenario, litellm_database_url: str) -> LitellmScenario:
    """The scenario as seeded, whatever ran before: nothing blocked in LiteLLM, nothing in llmusage's
    tables (each test stands alone, in any order)."""
    with psycopg.connect(litellm_database_url) as conn:
        conn.execute('UPDATE "LiteLLM_VerificationToken" SET blocked = FALSE WHERE blocked')
        conn.execute('UPDATE "LiteLLM_TeamTable" SET blocked = FALSE WHERE blocked')
        conn.execute("DELETE FROM llmusage.budget_events")
        conn.execute("DELETE FROM llmusage.budget_status")
        conn.execute("DELETE FROM llmusage.alerts")
    return scenario


@pytest.fixture
def applied(
    fresh: LitellmScenario, stub: LitellmStub, litellm_database_url: str, tmp_path: Path
) -> LitellmScenario:
    """The scenario after one write-back through the API (every refused key and team blocked)."""
    stub.reset()
    report = _apply(litellm_database_url, tmp_path / "applied-lake", LitellmApi(stub.url, MASTER))
    assert sorted(report.flagged) == sorted(_refused(fresh))
    stub.reset()
    return fresh


def _refused(scenario: LitellmScenario) -> set[tuple[str, str]]:
    """The keys and teams LiteLLM itself refuses now: what must be blocked."""
    return {(v.kind, v.id) for v in scenario.refusing if v.kind in ("key", "team")}


def _blocked(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return set(
            conn.execute(
                """SELECT 'key', token FROM "LiteLLM_VerificationToken" WHERE blocked
                   UNION ALL SELECT 'team', team_id FROM "LiteLLM_TeamTable" WHERE blocked"""
            ).fetchall()
        )


def _llmusage_rows(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM llmusage.budget_status), (SELECT count(*) FROM llmusage.budget_events)"
        ).fetchone()


def _called(stub: LitellmStub) -> list[tuple[str, str, int]]:
    """(route, key or team id, HTTP status) of every call the stub received."""
    return [(c.route, c.body.get("key") or c.body.get("team_id"), c.status) for c in stub.calls]


def _apply(url: str, lake: Path, api: LitellmApi) -> ApplyReport:
    return write_back(url, reconcile(url, lake, ReconcileOptions(as_of=NOW)), litellm_api=api)


def _env(url: str, home: Path, litellm_url: str) -> dict[str, str]:
    env = cli_env_for(url, home)
    return {**env, "LLMUSAGE_LITELLM_URL": litellm_url, "LLMUSAGE_LITELLM_MASTER_KEY": MASTER}


def test_the_scenario_has_keys_and_teams_to_block(fresh: LitellmScenario, litellm_database_url: str) -> None:
    refused = _refused(fresh)
    assert {kind for kind, _ in refused} == {"key", "team"} and len(refused) >= 2
    assert _blocked(litellm_database_url) == set() and _llmusage_rows(litellm_database_url) == (0, 0)


def test_a_wrong_master_key_is_refused_with_401_and_nothing_is_written(
    fresh: LitellmScenario, stub: LitellmStub, litellm_database_url: str, tmp_path: Path
) -> None:
    stub.reset()
    with pytest.raises(LlmusageError) as refused:
        _apply(litellm_database_url, tmp_path / "lake", LitellmApi(stub.url, "sk-not-the-master-key"))
    message = str(refused.value)
    assert "HTTP 401" in message and "Authentication Error" in message and message.endswith("nothing written")
    assert [status for *_, status in _called(stub)] == [401]
    assert _blocked(litellm_database_url) == set() and _llmusage_rows(litellm_database_url) == (0, 0)


def test_an_api_failure_midway_is_put_back_and_nothing_is_written(
    fresh: LitellmScenario, stub: LitellmStub, litellm_database_url: str, tmp_path: Path
) -> None:
    stub.reset(fail_call=2)  # the first block goes through, the second is a 500
    with pytest.raises(LlmusageError) as failed:
        _apply(litellm_database_url, tmp_path / "lake", LitellmApi(stub.url, MASTER))
    message = str(failed.value)
    assert "HTTP 500" in message and "1 change(s) LiteLLM's API had made undone" in message
    (first, first_id, ok), (second, _, error), (undo, undo_id, undone) = _called(stub)
    assert (first.endswith("/block"), ok, second.endswith("/block"), error) == (True, 200, True, 500)
    assert (undo, undo_id, undone) == (first.replace("/block", "/unblock"), first_id, 200)
    assert _blocked(litellm_database_url) == set()  # LiteLLM's blocks as they were
    assert _llmusage_rows(litellm_database_url) == (0, 0)  # and nothing half-written in llmusage's tables


def test_an_api_that_is_down_is_one_clear_line_from_the_cli(
    fresh: LitellmScenario, litellm_database_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with closed_port() as port:  # bound and never listening: really down for the whole call
        down = f"http://127.0.0.1:{port}"
        done = run_cli("reconcile", "--apply", env=_env(litellm_database_url, home, down))
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("llmusage: error: LiteLLM's management API at " + down + " is unreachable")
    assert line.endswith("nothing written")
    assert _blocked(litellm_database_url) == set() and _llmusage_rows(litellm_database_url) == (0, 0)
    assert not (home / "reconcile").exists()  # nor the verdict the warehouse shows


def test_apply_blocks_exactly_the_refused_keys_and_teams_through_the_api(
    fresh: LitellmScenario, stub: LitellmStub, litellm_database_url: str, home: Path
) -> None:
    stub.reset()
    env = _env(litellm_database_url, home, stub.url)
    done = run_cli("reconcile", "--apply", env=env)
    assert done.returncode == 0, done.stderr
    assert f"keys and teams blocked and unblocked through LiteLLM's API at {stub.url}" in done.stderr
    refused = _refused(fresh)
    assert f"applied: {len(refused)} flagged, 0 unflagged" in done.stdout
    called = _called(stub)
    assert all(route.endswith("/block") and status == 200 for route, _, status in called)
    assert sorted((ROUTE_KIND[route], entity) for route, entity, _ in called) == sorted(refused)  # once each
    assert _blocked(litellm_database_url) == refused
    with psycopg.connect(litellm_database_url) as conn:
        for call in stub.calls:  # the row version in LiteLLM's table is the one its API wrote, nothing after
            table, column = (
                ("LiteLLM_VerificationToken", "token")
                if "key" in call.body
                else ("LiteLLM_TeamTable", "team_id")
            )
            entity = call.body.get("key") or call.body["team_id"]
            [(xmin,)] = conn.execute(
                f'SELECT xmin::text FROM "{table}" WHERE {column} = %s', (entity,)
            ).fetchall()
            assert xmin == call.xmin, entity
        flagged = set(
            conn.execute("SELECT entity_type, entity_id FROM llmusage.budget_status WHERE flagged").fetchall()
        )
    assert flagged == refused
    stub.reset()
    again = run_cli("reconcile", "--apply", env=env)
    assert again.returncode == 0 and stub.calls == []  # nothing to change: no call


def test_an_admins_unblock_through_litellm_stands(
    applied: LitellmScenario, stub: LitellmStub, litellm_database_url: str, home: Path
) -> None:
    [team] = sorted(entity for kind, entity in _refused(applied) if kind == "team")[:1]
    LitellmApi(stub.url, MASTER).set_blocked("team", team, False)  # an admin lets the team through
    stub.reset()
    done = run_cli("reconcile", "--apply", env=_env(litellm_database_url, home, stub.url))
    assert done.returncode == 0, done.stderr
    assert stub.calls == []  # not blocked again within the period
    assert ("team", team) not in _blocked(litellm_database_url)
    with psycopg.connect(litellm_database_url) as conn:
        by_person = conn.execute(
            """SELECT count(*) FROM llmusage.budget_events
               WHERE entity_id = %s AND action = 'unflagged' AND detail ->> 'by' = 'person'""",
            (team,),
        ).fetchone()
    assert by_person == (1,)


def test_a_raised_budget_is_unblocked_through_key_unblock(
    applied: LitellmScenario, stub: LitellmStub, litellm_database_url: str, tmp_path: Path
) -> None:
    [key] = sorted(entity for kind, entity in _refused(applied) if kind == "key")[:1]
    verdict = next(v for v in applied.verdicts if (v.kind, v.id) == ("key", key))
    if verdict.source == "column":
        budget = 'UPDATE "LiteLLM_VerificationToken" SET max_budget = %s WHERE token = %s RETURNING 1'
        read = 'SELECT max_budget FROM "LiteLLM_VerificationToken" WHERE token = %s'
    else:
        budget = """UPDATE "LiteLLM_BudgetTable" SET max_budget = %s WHERE budget_id =
                    (SELECT budget_id FROM "LiteLLM_VerificationToken" WHERE token = %s) RETURNING 1"""
        read = """SELECT b.max_budget FROM "LiteLLM_BudgetTable" b JOIN "LiteLLM_VerificationToken" k
                  ON k.budget_id = b.budget_id WHERE k.token = %s"""
    with psycopg.connect(litellm_database_url) as conn:  # as LiteLLM's /key/update leaves the row
        (original,) = conn.execute(read, (key,)).fetchone()
        conn.execute(budget, (1e6, key))
    try:
        stub.reset()
        report = _apply(litellm_database_url, tmp_path / "lake", LitellmApi(stub.url, MASTER))
        assert _called(stub) == [("/key/unblock", key, 200)]
        assert report.unflagged == [("key", key)] and report.flagged == []
        assert ("key", key) not in _blocked(litellm_database_url)
        with psycopg.connect(litellm_database_url) as conn:
            flagged = conn.execute(
                "SELECT flagged FROM llmusage.budget_status WHERE entity_type = 'key' AND entity_id = %s",
                (key,),
            ).fetchone()
        assert flagged == (False,)
    finally:  # the scenario as seeded, for the tests that run after this one
        with psycopg.connect(litellm_database_url) as conn:
            conn.execute(budget, (original, key))
