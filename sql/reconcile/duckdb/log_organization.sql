-- `log_organization(team_id, user_id)`: the organization a log counts for, its team's, else its user's
-- (the organization rule in llmusage.entities), from the teams and users read in the reconciliation's snapshot
-- (`pg_teams`, `pg_users`). The one home of that rule for reconciliation's DuckDB side.
CREATE OR REPLACE TEMP MACRO log_organization(log_team_id, log_user_id) AS COALESCE(
    (SELECT t.organization_id FROM pg_teams AS t WHERE t.team_id = log_team_id),
    (SELECT u.organization_id FROM pg_users AS u WHERE u.user_id = log_user_id)
)
