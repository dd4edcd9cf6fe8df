-- The log that crossed each budget: within the crossing hour, in created_at then request_id order,
-- the first whose running spend (plus the spend before the hour) reaches max_budget.
WITH candidates AS (
    SELECT c.entity_type, c.entity_id, c.max_budget, c.before, l.created_at, l.request_id, l.spend
    FROM crossings AS c
    JOIN crossing_logs AS l
      ON l.created_at >= c.hour AND l.created_at < c.hour + INTERVAL 1 HOUR
     AND CASE c.entity_type
             WHEN 'key' THEN l.api_key = c.entity_id
             WHEN 'user' THEN l."user" = c.entity_id
             WHEN 'team' THEN l.team_id = c.entity_id
             ELSE COALESCE((SELECT t.organization_id FROM pg_teams AS t WHERE t.team_id = l.team_id),
                           (SELECT u.organization_id FROM pg_users AS u WHERE u.user_id = l."user")) = c.entity_id
         END
),
running AS (
    SELECT *, before + sum(spend) OVER (
        PARTITION BY entity_type, entity_id ORDER BY created_at, request_id
    ) AS total
    FROM candidates
)
SELECT entity_type, entity_id, min(created_at) AS first_exceeded_at
FROM running
WHERE total >= max_budget - $tolerance * greatest(1.0, max_budget)
GROUP BY ALL
