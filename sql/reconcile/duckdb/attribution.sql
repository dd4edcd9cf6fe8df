-- Which entities a log counts for, the one home of that rule on reconciliation's DuckDB side (see
-- llmusage.entities): its key (`api_key`), its user, its team, and its organization (carried by the
-- normalized log: LiteLLM's own column, or on the llmusage flavour its team's, else its user's). On a
-- LiteLLM database a user's budget is enforced on personal keys only, but against the user's whole spend,
-- team keys included (auth_checks.common_checks compares LiteLLM_UserTable.spend, which every request of
-- the user adds to: LiteLLM issue #26239), so the user's ledger is all of the user's logs in both flavours.
CREATE OR REPLACE TEMP MACRO counts_for_user(log_user_id, log_team_id) AS log_user_id IS NOT NULL
