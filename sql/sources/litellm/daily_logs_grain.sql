-- LiteLLM's logs summed at the grain the daily-table reconciliation needs (sql/reconcile/duckdb/
-- daily_lake_grain.sql is the same over the lake): UTC day of event time, key ('' for none), whether the
-- log has an organization and an end user, whether it failed, and its distinct non-empty tags, sorted.
-- The subquery is the normalized spend log query for a range of event time (llmusage.sources.spend_logs,
-- range_sql), so the range filters "startTime" through its index.
SELECT
    CAST(l.event_time AS date) AS day,
    COALESCE(l.api_key, '') AS api_key,
    l.organization_id IS NOT NULL AS has_organization,
    l.end_user IS NOT NULL AS has_end_user,
    l.status <> 'success' AS failed,
    t.tags,
    count(*) AS requests,
    COALESCE(sum(l.spend), 0) AS spend
FROM ({logs}) AS l
CROSS JOIN LATERAL (
    SELECT ARRAY(
        SELECT DISTINCT e.tag
        FROM jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(CAST(l.request_tags AS jsonb)) = 'array' THEN CAST(l.request_tags AS jsonb)
                 ELSE CAST('[]' AS jsonb) END
        ) AS e (tag)
        WHERE e.tag <> ''
        ORDER BY e.tag
    ) AS tags
) AS t
GROUP BY 1, 2, 3, 4, 5, 6
