"""Retention on a LiteLLM database (LiteLLM's own migrations, filled with `seed --flavour litellm`'s scenario):
by "startTime", the dry run deletes nothing and says what --apply does there; --apply deletes only
`LiteLLM_SpendLogs` rows of verified days, in several DELETE transactions, and leaves LiteLLM's counters
(`spend`, `total_spend`) and daily spend tables exactly as they were; reconciliation (statuses, ledgers,
drift causes), the daily tables' reconciliation, reports and chargeback give the same results after."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from llmusage.devtools.seed.litellm import LitellmScenario, seed_litellm
from llmusage.reconcile.compute import ReconcileOptions, reconcile
from llmusage.reconcile.daily_tables import reconcile_daily_tables
from llmusage.reports.chargeback import chargeback_lines
from llmusage.reports.spend import spend_report
from support.db import cli_env_for, run_cli

NOW = datetime(2026, 11, 18, 14, 30)
BEFORE = date(2026, 11, 10)  # prune the logs before this day
LATE = date(2026, 11, 3)  # a log committed after the extract: its day stays
COUNTERS = {
    "LiteLLM_VerificationToken": "token",
    "LiteLLM_UserTable": "user_id",
    "LiteLLM_TeamTable": "team_id",
    "LiteLLM_OrganizationTable": "organization_id",
    "LiteLLM_EndUserTable": "user_id",
    "LiteLLM_TagTable": "tag_name",
    "LiteLLM_TeamMembership": "user_id, team_id",
}
DAILY = ("LiteLLM_DailyUserSpend", "LiteLLM_DailyTeamSpend", "LiteLLM_DailyOrganizationSpend",
         "LiteLLM_DailyEndUserSpend", "LiteLLM_DailyTagSpend")  # fmt: skip


def _pg(url: str, query: str, params: dict | tuple | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def _litellm_accounting(url: str) -> dict[str, list[tuple]]:
    """Every counter column (spend, total_spend where present) and every daily table, row by row."""
    found: dict[str, list[tuple]] = {}
    for table, key in COUNTERS.items():
        columns = {
            r[0]
            for r in _pg(
                url, "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
            )
        }
        spend = ", ".join(c for c in ("spend", "total_spend") if c in columns)
        found[table] = _pg(url, f'SELECT {key}, {spend} FROM "{table}" ORDER BY {key}')
    for table in DAILY:
        found[table] = _pg(url, f'SELECT * FROM "{table}" ORDER BY 1')
    return found


def _rounded(value: object) -> object:
    """Floats to 9 places: DuckDB sums in parallel, in no fixed order (last bits differ between runs)."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_rounded(v) for v in value), key=repr)
    return value


def _results(url: str, lake: Path) -> dict[str, object]:
    daily = reconcile_daily_tables(url, lake, as_of=NOW).to_json(days=True)
    return _rounded(
        {
            "reconcile": reconcile(url, lake, ReconcileOptions(as_of=NOW)).entities.to_dicts(),
            "daily_tables": daily,
            "report": spend_report(lake, "team,model_group,day").frame.to_dicts(),
            **{
                f"chargeback {month} {by}": chargeback_lines(lake, month, by).to_dicts()
                for month in ("2026-10", "2026-11")
                for by in ("team", "org")
            },
        }
    )  # type: ignore[return-value]


def _per_day(url: str) -> dict[date, int]:
    return dict(_pg(url, 'SELECT "startTime"::date, count(*) FROM "LiteLLM_SpendLogs" GROUP BY 1'))


@pytest.fixture(scope="module")
def setup(litellm_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    url = litellm_database_url
    with psycopg.connect(url) as conn:
        scenario: LitellmScenario = seed_litellm(conn, now=NOW, seed=5)
    env = cli_env_for(url, tmp_path_factory.mktemp("home"))
    for args in (("db", "migrate"), ("extract",)):
        done = run_cli(*args, env=env)
        assert done.returncode == 0, done.stderr
    with psycopg.connect(url) as conn:  # a log committed after the extract, on an old day
        conn.execute(
            """INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens,
                   completion_tokens, "startTime", "endTime", model, "user", metadata, cache_hit, cache_key,
                   request_tags)
               VALUES ('late-log', 'acompletion', 'k', 0.01, 3, 2, 1, %(at)s, %(at)s, 'gpt-4o', '', '{}', 'False',
                   '', '[]')""",
            {"at": datetime.combine(LATE, datetime.min.time())},
        )
    keep = (datetime.now(UTC).date() - BEFORE).days  # the CLI counts back from the database's clock
    lake = Path(env["LLMUSAGE_HOME"]) / "lake"
    return {
        "scenario": scenario,
        "env": env,
        "keep": keep,
        "lake": lake,
        "pg": _per_day(url),
        "accounting": _litellm_accounting(url),
        "results": _results(url, lake),
    }


@pytest.fixture(scope="module")
def dry(setup: dict, litellm_database_url: str) -> dict:
    done = run_cli("retention", "--keep-days", str(setup["keep"]), env=setup["env"])
    return {"cli": done, "pg": _per_day(litellm_database_url)}


@pytest.fixture(scope="module")
def applied(dry: dict, setup: dict, litellm_database_url: str) -> dict:
    url = litellm_database_url
    done = run_cli(
        "retention", "--keep-days", str(setup["keep"]), "--apply", "--batch-size", "40", env=setup["env"]
    )
    pruned = _pg(
        url,
        "SELECT day, rows_deleted, batches, rows_left, flavour FROM llmusage.spend_log_prunes ORDER BY day",
    )
    return {
        "cli": done,
        "pg": _per_day(url),
        "pruned": pruned,
        "accounting": _litellm_accounting(url),
        "results": _results(url, setup["lake"]),
    }


def test_the_dry_run_says_what_apply_does_on_litellm_and_deletes_nothing(setup: dict, dry: dict) -> None:
    done = dry["cli"]
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"retention (dry run): litellm database, keep {setup['keep']} days: spend logs before {BEFORE} 00:00 UTC, "
        "days the lake holds exactly"
    )
    assert lines[1].startswith("LiteLLM database: --apply deletes rows of LiteLLM_SpendLogs only")
    assert "counters (spend, total_spend) and daily spend tables are not touched" in lines[1]
    assert f"  {LATE}  skipped (lake disagrees): " in done.stdout
    old = [d for d in setup["pg"] if d < BEFORE and d != LATE]
    assert sum(f"  {d}  would delete " in done.stdout for d in old) == len(old) > 5
    assert lines[-1] == "dry run: nothing was deleted; run again with --apply to delete"
    assert dry["pg"] == setup["pg"]


def test_apply_deletes_only_verified_spend_logs_and_leaves_litellm_accounting_alone(
    setup: dict, applied: dict
) -> None:
    done = applied["cli"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("retention (applied): litellm database")
    after = applied["pg"]
    assert {d for d in after if d < BEFORE} == {LATE}
    assert after[LATE] == setup["pg"][LATE]
    assert {d: n for d, n in after.items() if d >= BEFORE} == {
        d: n for d, n in setup["pg"].items() if d >= BEFORE
    }
    pruned = applied["pruned"]
    assert [r[0] for r in pruned] == sorted(d for d in setup["pg"] if d < BEFORE and d != LATE)
    assert all(
        rows == setup["pg"][day] and left == 0 and flavour == "litellm"
        for day, rows, _, left, flavour in pruned
    )
    assert all(batches == -(-rows // 40) for _, rows, batches, _, _ in pruned)
    assert sum(batches for _, _, batches, _, _ in pruned) > len(pruned)  # several DELETE transactions
    assert applied["accounting"] == setup["accounting"]


def test_results_are_the_same_after_pruning(setup: dict, applied: dict) -> None:
    for name, before in setup["results"].items():  # type: ignore[union-attr]
        assert applied["results"][name] == before, name
