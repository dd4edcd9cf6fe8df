-- Ledger spend, requests, top models (by spend, at most 3) and the instant the budget was first crossed, of
-- every LiteLLM end user, tag and team membership with a budget (`budget_only_windows`: its current
-- period's start, NULL for a lifetime budget; `strict` where LiteLLM refuses only above the budget). A log
-- counts for its end user, each distinct tag and its user in its team.
WITH charged AS (
    SELECT 'end_user' AS entity_type, end_user AS entity_id, event_time, model, spend
    FROM budget_only_logs WHERE end_user IS NOT NULL
    UNION ALL
    SELECT 'tag', tag, event_time, model, spend
    FROM (SELECT unnest(tags) AS tag, event_time, model, spend FROM budget_only_logs) AS tagged
    UNION ALL
    SELECT 'team_member', user_id || ':' || team_id, event_time, model, spend
    FROM budget_only_logs WHERE user_id IS NOT NULL AND team_id IS NOT NULL
),
counted AS (
    SELECT c.entity_type, c.entity_id, c.event_time, c.model, c.spend, w.max_budget, w.strict
    FROM charged AS c
    JOIN budget_only_windows AS w ON w.entity_type = c.entity_type AND w.entity_id = c.entity_id
    WHERE w.window_start IS NULL OR c.event_time >= w.window_start
),
running AS (
    SELECT *, sum(spend) OVER (PARTITION BY entity_type, entity_id ORDER BY event_time, spend
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cumulative
    FROM counted
),
crossed AS (
    SELECT entity_type, entity_id,
           min(event_time) FILTER (WHERE max_budget IS NOT NULL AND CASE
               WHEN strict THEN cumulative > max_budget + $abs_tol + $rel_tol * greatest(abs(max_budget), 1)
               ELSE cumulative >= max_budget - $abs_tol - $rel_tol * greatest(abs(max_budget), 1) END)
               AS first_exceeded_at
    FROM running
    GROUP BY ALL
),
per_model AS (
    SELECT entity_type, entity_id, model, sum(spend) AS spend, count(*) AS requests
    FROM counted
    GROUP BY ALL
)
SELECT p.entity_type, p.entity_id, sum(p.spend) AS ledger_spend, CAST(sum(p.requests) AS BIGINT) AS requests,
       list({'model': p.model, 'spend': p.spend} ORDER BY p.spend DESC, p.model)[1:3] AS top_models,
       any_value(x.first_exceeded_at) AS first_exceeded_at
FROM per_model AS p
JOIN crossed AS x ON x.entity_type = p.entity_type AND x.entity_id = p.entity_id
GROUP BY p.entity_type, p.entity_id
