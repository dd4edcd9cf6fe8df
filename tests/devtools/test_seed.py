"""Synthetic traffic: consistent, priced, skewed, deterministic, and with the anomalies reconciliation needs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
import pytest

from llmusage.devtools.seed import SeedOptions, SeedReport, seed
from support.db import run_cli

END = datetime(2026, 3, 1)  # exclusive: the last day seeded is 2026-02-28
SPEND_TOLERANCE = 1e-9  # relative; float sums differ only in the last bits


def _seed(url: str, logs: int = 30_000, seed_value: int = 7, anomalies: bool = False) -> SeedReport:
    options = SeedOptions(logs=logs, days=14, seed=seed_value, anomalies=anomalies, end=END, reset=True)
    with psycopg.connect(url) as conn:
        return seed(conn, options)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= SPEND_TOLERANCE * max(abs(a), abs(b), 1.0)


LEDGER = {
    "key": ('SELECT token, spend FROM "LiteLLM_VerificationToken"', 'SELECT api_key, sum(spend) FROM "LiteLLM_SpendLogs" GROUP BY 1'),
    "user": ('SELECT user_id, spend FROM "LiteLLM_UserTable"', 'SELECT "user", sum(spend) FROM "LiteLLM_SpendLogs" GROUP BY 1'),
    "team": ('SELECT team_id, spend FROM "LiteLLM_TeamTable"', 'SELECT team_id, sum(spend) FROM "LiteLLM_SpendLogs" GROUP BY 1'),
    "organization": (
        'SELECT organization_id, spend FROM "LiteLLM_OrganizationTable"',
        """SELECT COALESCE(t.organization_id, u.organization_id), sum(l.spend)
           FROM "LiteLLM_SpendLogs" l
           LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = l.team_id
           LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = l."user"
           GROUP BY 1""",
    ),
}  # fmt: skip


def _drift(conn: psycopg.Connection) -> dict[str, set[str]]:
    """Entities whose spend column differs from the sum of their logs."""
    drifted: dict[str, set[str]] = {}
    for kind, (recorded_sql, ledger_sql) in LEDGER.items():
        recorded = dict(conn.execute(recorded_sql).fetchall())
        ledger = {k: v for k, v in conn.execute(ledger_sql).fetchall() if k is not None}
        drifted[kind] = {e for e, amount in recorded.items() if not _close(amount, ledger.get(e, 0.0))}
    return drifted


_SEEDED: dict[str, SeedReport] = {}  # database URL -> the default seed it holds


@pytest.fixture
def clean(database_url: str) -> SeedReport:
    """The default seed, made again only when a test that seeds its own data ran since (any order)."""
    if database_url not in _SEEDED:
        _SEEDED[database_url] = _seed(database_url)
    return _SEEDED[database_url]


@pytest.fixture
def reseeding(database_url: str) -> Iterator[None]:
    """A test that seeds the database its own way: the next test wanting `clean` seeds it again."""
    _SEEDED.pop(database_url, None)
    yield
    _SEEDED.pop(database_url, None)


def test_rows_and_window(clean: SeedReport, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        n, first, last = conn.execute(
            'SELECT count(*), min(created_at), max(created_at) FROM "LiteLLM_SpendLogs"'
        ).fetchone()
        assert n == 30_000
        assert END - timedelta(days=14) <= first < END - timedelta(days=13)
        assert END - timedelta(hours=2) <= last < END
        assert 4 <= conn.execute('SELECT count(*) FROM "LiteLLM_ProxyModelTable"').fetchone()[0] <= 8
        assert conn.execute(
            'SELECT count(DISTINCT "date_trunc"(\'day\', created_at)) FROM "LiteLLM_SpendLogs"'
        ).fetchone() == (14,)


def test_spend_columns_equal_the_sum_of_logs(clean: SeedReport, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        assert _drift(conn) == {"key": set(), "user": set(), "team": set(), "organization": set()}
        total = conn.execute('SELECT sum(spend) FROM "LiteLLM_SpendLogs"').fetchone()[0]
        teams = conn.execute('SELECT sum(spend) FROM "LiteLLM_VerificationToken"').fetchone()[0]
        assert _close(total, clean.total_spend) and _close(total, teams)
        # Without anomalies nothing is over budget.
        over = conn.execute(
            """SELECT count(*) FROM (
                 SELECT spend, max_budget FROM "LiteLLM_VerificationToken" UNION ALL
                 SELECT spend, max_budget FROM "LiteLLM_UserTable" UNION ALL
                 SELECT spend, max_budget FROM "LiteLLM_TeamTable" UNION ALL
                 SELECT spend, max_budget FROM "LiteLLM_OrganizationTable") e
               WHERE spend >= max_budget"""
        ).fetchone()
        assert over == (0,)


def test_every_log_is_priced_from_the_model_table(clean: SeedReport, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        bad = conn.execute(
            """SELECT count(*) FROM "LiteLLM_SpendLogs" l
               JOIN "LiteLLM_ProxyModelTable" m ON m.model_name = l.model
               WHERE l.total_tokens <> l.prompt_tokens + l.completion_tokens
                  OR l.prompt_tokens < 1 OR l.completion_tokens < 0
                  OR abs(l.spend - (l.prompt_tokens * (m.model_info->>'input_cost_per_token')::float8
                                  + l.completion_tokens * (m.model_info->>'output_cost_per_token')::float8)) > 1e-12
                  OR l.api_provider <> split_part(m.litellm_params->>'model', '/', 1)"""
        ).fetchone()
        assert bad == (0,)
        unknown = conn.execute(
            """SELECT count(*) FROM "LiteLLM_SpendLogs" l
               WHERE NOT EXISTS (SELECT 1 FROM "LiteLLM_ProxyModelTable" m WHERE m.model_name = l.model)
                  OR NOT EXISTS (SELECT 1 FROM "LiteLLM_VerificationToken" k WHERE k.token = l.api_key)"""
        ).fetchone()
        assert unknown == (0,)


def test_keys_are_stored_as_hashes_only(clean: SeedReport, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        tokens = {r[0] for r in conn.execute('SELECT token FROM "LiteLLM_VerificationToken"')}
        assert tokens == {hashlib.sha256(raw.encode()).hexdigest() for raw in clean.keys.values()}
        tables = ("LiteLLM_VerificationToken", "LiteLLM_SpendLogs")
        dump = "\n".join(str(r) for t in tables for r in conn.execute(f'SELECT * FROM "{t}" LIMIT 5000'))
        assert not re.search(r"sk-[0-9a-f]{20,}", dump)


def test_policy_features_are_present_and_respected(clean: SeedReport, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT count(*) FROM "LiteLLM_TeamTable" WHERE blocked').fetchone() == (1,)
        assert (
            conn.execute('SELECT count(*) FROM "LiteLLM_TeamTable" WHERE max_budget IS NOT NULL').fetchone()[
                0
            ]
            >= 3
        )
        assert (
            conn.execute(
                'SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE expires < %s', (END,)
            ).fetchone()[0]
            >= 1
        )
        assert (
            conn.execute('SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE team_id IS NULL').fetchone()[
                0
            ]
            >= 1
        )
        roles = {r[0] for r in conn.execute('SELECT DISTINCT user_role FROM "LiteLLM_UserTable"')}
        assert roles == {"admin", "user", "viewer"}
        # Logs only use models allowed by the key's and the team's allowlists, and precede key expiry.
        assert (
            conn.execute(
                'SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE cardinality(models) > 0'
            ).fetchone()[0]
            >= 1
        )
        violations = conn.execute(
            """SELECT count(*) FROM "LiteLLM_SpendLogs" l
               JOIN "LiteLLM_VerificationToken" k ON k.token = l.api_key
               LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = k.team_id
               WHERE (cardinality(k.models) > 0 AND NOT l.model = ANY (k.models))
                  OR (cardinality(t.models) > 0 AND NOT l.model = ANY (t.models))
                  OR (k.expires IS NOT NULL AND l.created_at >= k.expires)"""
        ).fetchone()
        assert violations == (0,)


def test_traffic_is_skewed_with_a_daily_rhythm_and_tags(clean: SeedReport, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        team_shares = conn.execute(
            'SELECT sum(spend) / (SELECT sum(spend) FROM "LiteLLM_SpendLogs") FROM "LiteLLM_SpendLogs" GROUP BY team_id ORDER BY 1 DESC'
        )
        shares = [r[0] for r in team_shares]
        assert shares[0] > 2 * shares[len(shares) // 2]  # a few heavy teams
        by_hour = dict(
            conn.execute(
                'SELECT extract(hour FROM created_at)::int, count(*) FROM "LiteLLM_SpendLogs" GROUP BY 1'
            )
        )
        assert by_hour[14] > 3 * by_hour[3]  # afternoon peak, quiet night
        models = conn.execute('SELECT count(DISTINCT model) FROM "LiteLLM_SpendLogs"').fetchone()[0]
        assert models >= 4
        tag_keys = conn.execute(
            """SELECT DISTINCT split_part(tag, ':', 1) FROM "LiteLLM_SpendLogs", jsonb_array_elements_text(metadata->'tags') tag"""
        )
        tags = {r[0] for r in tag_keys}
        assert {"env", "app", "feature"} <= tags
        envs = {
            r[0] for r in conn.execute("""SELECT DISTINCT metadata->'tags'->>0 FROM "LiteLLM_SpendLogs" """)
        }
        assert "env:prod" in envs


@pytest.mark.usefixtures("reseeding")
def test_same_seed_same_data(database_url: str) -> None:
    fingerprint = """SELECT md5(string_agg(request_id || api_key || model || spend::text || created_at::text || metadata::text, ','
                                 ORDER BY request_id)) FROM "LiteLLM_SpendLogs" """
    keys = "SELECT md5(string_agg(token || coalesce(max_budget::text, '-'), ',' ORDER BY token)) FROM \"LiteLLM_VerificationToken\""
    runs = []
    for seed_value in (11, 11, 12):
        _seed(database_url, logs=5_000, seed_value=seed_value)
        with psycopg.connect(database_url) as conn:
            runs.append((conn.execute(fingerprint).fetchone()[0], conn.execute(keys).fetchone()[0]))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0] and runs[0][1] != runs[2][1]


@pytest.mark.usefixtures("reseeding")
def test_anomalies_are_there_to_find(database_url: str) -> None:
    report = _seed(database_url, logs=20_000, anomalies=True)
    kinds = {a.kind for a in report.anomalies}
    assert kinds == {"drift", "over_budget", "late_rows", "deleted_key"}
    with psycopg.connect(database_url) as conn:
        drifted = _drift(conn)
        expected = {}
        for a in report.anomalies:
            if a.kind == "drift":
                expected.setdefault(a.entity_type, set()).add(a.entity_id)
        for kind, entities in expected.items():
            assert entities <= drifted[kind], kind
        for a in report.anomalies:
            if a.kind == "over_budget":
                table, column = {
                    "key": ("LiteLLM_VerificationToken", "token"),
                    "user": ("LiteLLM_UserTable", "user_id"),
                    "team": ("LiteLLM_TeamTable", "team_id"),
                    "organization": ("LiteLLM_OrganizationTable", "organization_id"),
                }[a.entity_type]
                spend, budget = conn.execute(
                    f'SELECT spend, max_budget FROM "{table}" WHERE "{column}" = %s', (a.entity_id,)
                ).fetchone()
                assert budget is not None and spend >= budget
        deleted = next(a for a in report.anomalies if a.kind == "deleted_key")
        assert conn.execute(
            'SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE token = %s', (deleted.entity_id,)
        ).fetchone() == (0,)
        orphan = conn.execute(
            'SELECT count(*), sum(spend) FROM "LiteLLM_SpendLogs" WHERE api_key = %s', (deleted.entity_id,)
        ).fetchone()
        assert orphan[0] > 0 and _close(orphan[1], deleted.detail["ledger"])  # type: ignore[arg-type]
        late = conn.execute(
            """SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE created_at >= %s""",
            (END - timedelta(minutes=110),),
        ).fetchone()[0]
        assert late >= 20


@pytest.mark.usefixtures("reseeding")
def test_cli_seed_prints_a_summary(cli_env: dict[str, str]) -> None:
    result = run_cli(
        "seed", "--logs", "3000", "--days", "3", "--seed", "3", "--anomalies", "--reset", env=cli_env
    )
    assert result.returncode == 0, result.stderr
    assert "seeded 3,000 spend logs over 3 days" in result.stdout
    assert "LiteLLM_SpendLogs" in result.stdout and "3,000" in result.stdout
    assert "total spend: $" in result.stdout
    assert "entities over budget:" in result.stdout


@pytest.mark.usefixtures("reseeding")
def test_bulk_load_rebuilds_every_index(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk path (indexes dropped, COPY, indexes rebuilt on two connections) ends with the same schema."""
    from llmusage.devtools.seed import loader

    monkeypatch.setattr(loader, "BULK_THRESHOLD", 1_000)
    with psycopg.connect(database_url) as conn:
        report = seed(
            conn,
            SeedOptions(logs=12_000, days=3, seed=5, end=END, reset=True),
            connect=lambda: psycopg.connect(database_url),
        )
    assert report.counts["LiteLLM_SpendLogs"] == 12_000
    with psycopg.connect(database_url) as conn:
        indexes = dict(
            conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'LiteLLM_SpendLogs'")
        )
        assert set(indexes) == {
            "LiteLLM_SpendLogs_pkey",
            "idx_spendlogs_api_key",
            "idx_spendlogs_created_at",
            "idx_spendlogs_user",
            "idx_spendlogs_team_id",
        }
        primary = conn.execute(
            """SELECT count(*) FROM pg_constraint WHERE conrelid = '"LiteLLM_SpendLogs"'::regclass AND contype = 'p'"""
        ).fetchone()
        assert primary == (1,)
        assert _drift(conn) == {"key": set(), "user": set(), "team": set(), "organization": set()}
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                'INSERT INTO "LiteLLM_SpendLogs" (request_id) SELECT request_id FROM "LiteLLM_SpendLogs" LIMIT 1'
            )
