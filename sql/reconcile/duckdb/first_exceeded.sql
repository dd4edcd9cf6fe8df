-- The log that crossed each budget: on the crossing day (from the window's start, if any), in event_time
-- order, the first whose running spend plus the spend before reaches max_budget. Logs with the same
-- event_time are summed together (the window's RANGE frame), so their order among themselves, and so
-- request_id (the costliest column to read), does not matter: the answer is their common event_time.
WITH candidates AS (
    SELECT c.entity_type, c.entity_id, c.max_budget, c.before, e.event_time, e.spend
    FROM crossings AS c
    JOIN edge_entity_logs AS e ON e.entity_type = c.entity_type AND e.entity_id = c.entity_id AND e.day = c.day
    LEFT JOIN windows AS w ON w.entity_type = c.entity_type AND w.entity_id = c.entity_id
    WHERE w.window_start IS NULL OR e.event_time >= w.window_start
),
running AS (
    SELECT *, before + sum(spend) OVER (
        PARTITION BY entity_type, entity_id ORDER BY event_time
    ) AS total
    FROM candidates
)
SELECT entity_type, entity_id, min(event_time) AS first_exceeded_at
FROM running
WHERE total >= max_budget - ($abs_tol + $rel_tol * greatest(1.0, max_budget))
GROUP BY ALL
