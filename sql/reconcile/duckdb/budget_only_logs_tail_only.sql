-- The logs that can count for a LiteLLM end user, tag or team membership budget when the lake has none of
-- their days: PostgreSQL's rows from the cutoff on (`budget_only_tail`).
CREATE OR REPLACE TEMP VIEW budget_only_logs AS
SELECT CAST(event_time AS TIMESTAMP) AS event_time, model, spend, end_user, user_id, team_id, tags
FROM budget_only_tail
