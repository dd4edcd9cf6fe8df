-- Retention on a LiteLLM database: delete one batch of LiteLLM_SpendLogs rows by primary key (request ids
-- read from the day's lake partition), never outside the day of "startTime" being pruned; returns how
-- many rows and how much spend went. Only LiteLLM_SpendLogs rows: no counter (spend, total_spend), no
-- daily spend table, no DDL. One short transaction per batch (row locks on these rows only).
WITH gone AS (
    DELETE FROM "LiteLLM_SpendLogs"
    WHERE request_id = ANY(%(ids)s) AND "startTime" >= %(since)s AND "startTime" < %(until)s
    RETURNING spend
)
SELECT count(*) AS n_rows, COALESCE(sum(spend), 0) AS spend FROM gone
