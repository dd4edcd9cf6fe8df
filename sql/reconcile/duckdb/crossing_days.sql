-- For each entity over budget: the day on which its running spend (in its window) reached max_budget,
-- and the spend before that day (the exact log is then found among that day's logs).
WITH daily AS (
    SELECT entity_type, entity_id, day, sum(spend) AS spend
    FROM in_window
    GROUP BY ALL
),
running AS (
    SELECT
        d.*,
        sum(d.spend) OVER (PARTITION BY d.entity_type, d.entity_id ORDER BY d.day) AS total,
        b.max_budget
    FROM daily AS d
    JOIN exceeded AS b ON b.entity_type = d.entity_type AND b.entity_id = d.entity_id
)
SELECT entity_type, entity_id, max_budget, min(day) AS day, arg_min(total - spend, day) AS before
FROM running
WHERE total >= max_budget - ($abs_tol + $rel_tol * greatest(1.0, max_budget))
GROUP BY ALL
