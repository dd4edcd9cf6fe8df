-- Log by log, the logs from the cutoff on that count for a LiteLLM end user, tag or team membership with a
-- budget (llmusage.reconcile.litellm_budgets): a log's end user, the distinct tags of its request_tags list,
-- its user in its team. The subquery is LiteLLM's normalized spend log query from the cutoff on
-- (llmusage.sources.spend_logs, `range_sql`).
WITH l AS (
    SELECT event_time, model, spend, end_user, user_id, team_id,
           CASE WHEN jsonb_typeof(CAST(request_tags AS jsonb)) = 'array' THEN CAST(request_tags AS jsonb)
                ELSE CAST('[]' AS jsonb) END AS tag_list
    FROM ({logs}) AS normalized
)
SELECT event_time, model, spend, end_user, user_id, team_id,
       ARRAY(SELECT DISTINCT jsonb_array_elements_text(tag_list)) AS tags
FROM l
WHERE end_user = ANY(%(end_users)s::text[])
   OR tag_list ?| %(tags)s::text[]
   OR user_id || ':' || team_id = ANY(%(members)s::text[])
