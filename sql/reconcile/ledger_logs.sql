-- Every log the ledger counts: the lake's settled days and PostgreSQL's tail, read in one snapshot.
CREATE OR REPLACE TEMP VIEW ledger_logs AS
SELECT request_id, api_key, "user", team_id, model, spend, created_at, day FROM lake_logs
UNION ALL
SELECT request_id, api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP), CAST(created_at AS DATE)
FROM tail
