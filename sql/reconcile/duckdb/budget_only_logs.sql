-- The logs that can count for a LiteLLM end user, tag or team membership budget
-- (llmusage.reconcile.litellm_budgets): the lake's files from the earliest window's day on (`budget_only_files`),
-- their rows before the cutoff, and PostgreSQL's rows from the cutoff on for those entities (`budget_only_tail`).
CREATE OR REPLACE TEMP VIEW budget_only_logs AS
SELECT CAST(event_time AS TIMESTAMP) AS event_time, model, spend, end_user, user_id, team_id, list_distinct(tags) AS tags
FROM budget_only_files
WHERE CAST(event_time AS TIMESTAMP) < (SELECT cutoff FROM bounds)
UNION ALL
SELECT CAST(event_time AS TIMESTAMP), model, spend, end_user, user_id, team_id, tags
FROM budget_only_tail
