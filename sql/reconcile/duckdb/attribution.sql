-- Which entities a log counts for, the one home of that rule on reconciliation's DuckDB side (see
-- llmusage.entities): its key (`api_key`), its team, its organization (carried by the normalized log:
-- LiteLLM's own column, or on the llmusage flavour its team's, else its user's), and its user, except that
-- on a LiteLLM database a user's budget covers only that user's personal keys, so only logs without a team
-- count for the user (`rules.personal_keys_only`, registered by llmusage.reconcile.compute).
CREATE OR REPLACE TEMP MACRO counts_for_user(log_user_id, log_team_id) AS
    log_user_id IS NOT NULL AND (log_team_id IS NULL OR NOT (SELECT personal_keys_only FROM rules))
