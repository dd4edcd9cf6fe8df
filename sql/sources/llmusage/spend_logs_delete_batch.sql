-- Retention: delete one batch of spend logs by primary key (request ids read from the day's lake
-- partition), never outside the day being pruned; returns how many rows and how much spend went.
-- One short transaction per batch: row locks on these rows only, no table lock beyond ROW EXCLUSIVE.
WITH gone AS (
    DELETE FROM "LiteLLM_SpendLogs"
    WHERE request_id = ANY(%(ids)s) AND created_at >= %(since)s AND created_at < %(until)s
    RETURNING spend
)
SELECT count(*) AS n_rows, COALESCE(sum(spend), 0) AS spend FROM gone
