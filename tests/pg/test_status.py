"""`llmusage db status` on both flavours, through the CLI: the flavour line, the migrations, row counts, the
logged spend by event time and the entities over budget (a LiteLLM organization's budget is its budget row)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from support.db import cli_env_for, run_cli

LITELLM_ROWS = """
INSERT INTO "LiteLLM_BudgetTable" (budget_id, max_budget, created_by, updated_by)
VALUES ('b-org', 100, 'admin', 'admin'), ('b-key', 1, 'admin', 'admin');
INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias, budget_id, spend, models, created_by,
    updated_by)
VALUES ('org-1', 'Acme', 'b-org', 150, '{}', 'admin', 'admin'), ('org-2', 'Calm', 'b-org', 10, '{}', 'admin', 'admin');
INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id, admins, members, models, max_budget, spend)
VALUES ('team-1', 'search', 'org-1', '{}', '{}', '{}', 50, 20), ('team-2', 'ads', 'org-2', '{}', '{}', '{}', 5, 6);
INSERT INTO "LiteLLM_UserTable" (user_id, user_email, max_budget, spend, models)
VALUES ('u-1', 'ann@example.com', 10, 2, '{}');
INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, team_id, user_id, models, spend, max_budget, budget_id)
VALUES ('digest-1', 'search-prod', 'team-1', 'u-1', '{}', 5, NULL, 'b-key'),
       ('digest-2', 'search-dev', 'team-1', 'u-1', '{}', 7, 20, 'b-key'),
       ('digest-3', 'no-limit', 'team-1', '', '{}', 9, NULL, NULL);
INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, "startTime", "endTime", team_id, "user",
    organization_id, model)
VALUES ('r1', 'acompletion', 'digest-1', 3, '2026-01-02 10:00', '2026-01-02 10:00:01', 'team-1', 'u-1', 'org-1', 'm'),
       ('r2', 'acompletion', 'digest-2', 2, '2026-01-03 11:30', '2026-01-03 11:30:02', 'team-1', 'u-1', 'org-1', 'm');
"""


def _status(url: str, tmp_path: Path) -> str:
    result = run_cli("db", "status", env=cli_env_for(url, tmp_path / "home"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_status_of_a_litellm_database(litellm_database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(litellm_database_url) as conn:
        latest = conn.execute("SELECT max(migration_name) FROM _prisma_migrations").fetchone()
    assert latest is not None
    flavour = f"flavour    LiteLLM (latest migration {latest[0]})"

    before = _status(litellm_database_url, tmp_path)  # not migrated yet: nothing of llmusage's, no error
    assert flavour in before.splitlines()
    assert "migrations 0 applied, 7 pending" in before
    assert any(line.split()[:2] == ["0001_litellm_schema.sql", "pending"] for line in before.splitlines())
    assert "pending (to be skipped on this flavour)" in before
    assert "llmusage.budget_status" in before and "missing" in before

    migrated = run_cli("db", "migrate", env=cli_env_for(litellm_database_url, tmp_path / "home"))
    assert migrated.returncode == 0, migrated.stderr
    with psycopg.connect(litellm_database_url) as conn:
        conn.execute(LITELLM_ROWS.encode())

    out = _status(litellm_database_url, tmp_path)
    lines = out.splitlines()
    assert flavour in lines
    assert "migrations 5 applied, 2 skipped, 0 pending" in lines
    assert any(line.startswith("  0001_litellm_schema") and "skipped" in line for line in lines)
    assert any(line.split() == ["LiteLLM_BudgetTable", "2"] for line in lines)
    assert any(line.split() == ["llmusage.budget_status", "0"] for line in lines)
    # By event time ("startTime"), not write time (created_at is today for these rows).
    assert "spend      $5.00 over 2 requests (2026-01-02 10:00 to 2026-01-03 11:30)" in lines
    over = lines[lines.index("over budget 3") + 1 :]
    assert over == [
        "  key          search-prod: $5.00 of $1.00 (500%)",  # no column: its budget row's limit
        "  organization Acme [org-1]: $150.00 of $100.00 (150%)",  # only a budget row
        "  team         ads [team-2]: $6.00 of $5.00 (120%)",
    ]  # search-dev's own max_budget (20) wins over its budget row's; org-2, team-1, the user are under


def test_status_of_an_llmusage_database(database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias, max_budget, spend)
            VALUES ('org-9', 'Umbrella', 10, 25)"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, spend, created_at)
            VALUES ('r1', 'k', 1.5, '2026-02-01 09:00'), ('r2', 'k', 1, '2026-02-02 09:15')"""
        )
    out = _status(database_url, tmp_path)
    lines = out.splitlines()
    assert "flavour    llmusage" in lines
    assert "migrations 7 applied, 0 pending" in lines
    assert any(line.split() == ["llmusage.budget_events", "0"] for line in lines)
    assert any(line.split() == ["llmusage.alerts", "0"] for line in lines)
    assert any(line.split() == ["llmusage.spend_log_prunes", "0"] for line in lines)
    assert "spend      $2.50 over 2 requests (2026-02-01 09:00 to 2026-02-02 09:15)" in lines
    assert (
        lines[lines.index("over budget 1") + 1] == "  organization Umbrella [org-9]: $25.00 of $10.00 (250%)"
    )
