"""Budget windows reconciled over a real lake (the path production uses: rollups, the window's first day read
log by log, the cutoff day's settled part, PostgreSQL's tail): a `24h` window anchored mid-day, a `7d` window
anchored at creation, a calendar-quarter `3mo` window and a `2w` window with `budget_anchor`, every window
starting before the lake's cutoff. Each ledger equals a reconciliation without a lake at the same instant and a
sum computed by PostgreSQL itself; each crossing instant equals PostgreSQL's running sum; sub-hour and
fractional-hour durations are refused."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from llmusage.devtools.seed import SeedOptions, seed
from llmusage.errors import LlmusageError
from llmusage.lake.extract import extract
from llmusage.reconcile import ReconcileOptions, reconcile

END = datetime(2026, 4, 1)
AS_OF = datetime(2026, 3, 31, 23, 0)
# entity kind -> (table, id column, metadata column, how a log counts for it)
ENTITIES = {
    "key": ('"LiteLLM_VerificationToken"', "token", "metadata", "l.api_key = %(id)s"),
    "team": ('"LiteLLM_TeamTable"', "team_id", "metadata", "l.team_id = %(id)s"),
    "user": ('"LiteLLM_UserTable"', "user_id", "user_metadata", 'l."user" = %(id)s'),
    "organization": (
        '"LiteLLM_OrganizationTable"',
        "organization_id",
        "metadata",
        # the organization rule: the team's organization, else the user's
        """COALESCE((SELECT t.organization_id FROM "LiteLLM_TeamTable" t WHERE t.team_id = l.team_id),
                    (SELECT u.organization_id FROM "LiteLLM_UserTable" u WHERE u.user_id = l."user"))
           = %(id)s""",
    ),
}
WINDOWS = {  # kind -> (metadata, the window start at AS_OF when computed by hand, or None: from created_at)
    "key": ({"budget_duration": "24h", "budget_anchor": "2026-01-07T13:00:00"}, datetime(2026, 3, 31, 13)),
    "team": ({"budget_duration": "7d"}, None),
    "user": ({"budget_duration": "3mo"}, datetime(2026, 1, 1)),
    "organization": (
        {"budget_duration": "2w", "budget_anchor": "2026-01-05T07:00:00"},
        datetime(2026, 3, 30, 7),
    ),
}


def _busiest(conn: psycopg.Connection, kind: str) -> str:
    table, column, _, counts = ENTITIES[kind]
    return conn.execute(
        f"""SELECT e.{column} FROM {table} e ORDER BY (SELECT count(*) FROM "LiteLLM_SpendLogs" l
                WHERE {counts.replace("%(id)s", f"e.{column}")}) DESC, 1 LIMIT 1"""
    ).fetchone()[0]


def _pg_running(conn: psycopg.Connection, kind: str, entity: str, start: datetime) -> list[tuple]:
    """(created_at, running spend) of the entity's logs from `start` on, summed per instant, in order."""
    counts = ENTITIES[kind][3]
    return conn.execute(
        f"""SELECT created_at, sum(sum(spend)) OVER (ORDER BY created_at)
            FROM "LiteLLM_SpendLogs" l WHERE created_at >= %(start)s AND {counts}
            GROUP BY created_at ORDER BY created_at""",
        {"start": start, "id": entity},
    ).fetchall()


@pytest.fixture(scope="module")
def windowed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The seed's 100 days, extracted; the busiest entity of each kind given a window budget of half its
    window's spend (so each is crossed inside its window)."""
    with psycopg.connect(database_url) as conn:
        seed(conn, SeedOptions(logs=30_000, days=100, seed=17, end=END, reset=True))
    lake = tmp_path_factory.mktemp("lake")
    extract(database_url, lake)
    chosen = {}
    with psycopg.connect(database_url) as conn:
        for kind, (metadata, start) in WINDOWS.items():
            table, column, metadata_column, _ = ENTITIES[kind]
            entity = _busiest(conn, kind)
            if start is None:  # 7d anchored at the entity's creation, truncated to the hour
                created = datetime(2026, 1, 2, 9, 41)
                conn.execute(f"UPDATE {table} SET created_at = %s WHERE {column} = %s", (created, entity))
                start = datetime(2026, 3, 27, 9)  # 2026-01-02 09:00 plus 12 weeks
            running = _pg_running(conn, kind, entity, start)
            ledger = float(running[-1][1])
            budget = ledger / 2
            crossed = next(t for t, total in running if total >= budget - 1e-6)
            conn.execute(
                f"""UPDATE {table} SET {metadata_column} = COALESCE({metadata_column}, '{{}}') || %s::jsonb,
                        max_budget = %s WHERE {column} = %s""",
                (json.dumps(metadata), budget, entity),
            )
            chosen[kind] = {"id": entity, "start": start, "ledger": ledger, "crossed": crossed}
    return {"lake": lake, "chosen": chosen}


def _rows(url: str, lake: Path) -> dict[tuple[str, str], dict]:
    result = reconcile(url, lake, ReconcileOptions(as_of=AS_OF))
    return {(r["entity_type"], r["entity_id"]): r for r in result.entities.iter_rows(named=True)}


def test_windows_start_before_the_lake_cutoff(windowed: dict, database_url: str) -> None:
    result = reconcile(database_url, windowed["lake"], ReconcileOptions(as_of=AS_OF))
    assert result.cutoff is not None and result.lake_days == 100
    assert all(chosen["start"] < result.cutoff for chosen in windowed["chosen"].values())


@pytest.mark.parametrize("kind", list(WINDOWS))
def test_window_ledger_over_the_lake_equals_postgres(
    windowed: dict, database_url: str, tmp_path: Path, kind: str
) -> None:
    chosen = windowed["chosen"][kind]
    over_lake = _rows(database_url, windowed["lake"])[(kind, chosen["id"])]
    without_lake = _rows(database_url, tmp_path / "no-lake")[(kind, chosen["id"])]
    assert over_lake["window_start"] == without_lake["window_start"] == chosen["start"]
    assert over_lake["budget_duration"] == WINDOWS[kind][0]["budget_duration"]
    assert over_lake["ledger_spend"] == pytest.approx(chosen["ledger"], rel=1e-9, abs=1e-9)
    assert without_lake["ledger_spend"] == pytest.approx(chosen["ledger"], rel=1e-9, abs=1e-9)
    assert over_lake["status"] == without_lake["status"] == "exceeded"
    assert over_lake["first_exceeded_at"] == without_lake["first_exceeded_at"] == chosen["crossed"]


@pytest.mark.parametrize("duration", ["30m", "90m", "3600s0"])
def test_sub_hour_and_fractional_hour_durations_are_refused(
    windowed: dict, database_url: str, duration: str
) -> None:
    kind = "team"
    table, column, metadata_column, _ = ENTITIES[kind]
    entity = windowed["chosen"][kind]["id"]
    with psycopg.connect(database_url) as conn:
        before = conn.execute(
            f"SELECT {metadata_column} FROM {table} WHERE {column} = %s", (entity,)
        ).fetchone()[0]
        conn.execute(
            f"UPDATE {table} SET {metadata_column} = {metadata_column} || %s::jsonb WHERE {column} = %s",
            (json.dumps({"budget_duration": duration}), entity),
        )
    try:
        with pytest.raises(LlmusageError, match="budget_duration"):
            reconcile(database_url, windowed["lake"], ReconcileOptions(as_of=AS_OF))
    finally:
        with psycopg.connect(database_url) as conn:
            conn.execute(
                f"UPDATE {table} SET {metadata_column} = %s WHERE {column} = %s", (json.dumps(before), entity)
            )
