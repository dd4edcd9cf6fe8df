-- For each entity over budget: the hour in which its running spend reached max_budget, and the spend
-- before that hour (the exact log is then found among that hour's logs).
WITH hourly AS (
    SELECT entity_type, entity_id, hour, sum(spend) AS spend
    FROM in_window
    GROUP BY ALL
),
running AS (
    SELECT
        h.*,
        sum(h.spend) OVER (PARTITION BY h.entity_type, h.entity_id ORDER BY h.hour) AS total,
        b.max_budget
    FROM hourly AS h
    JOIN exceeded AS b ON b.entity_type = h.entity_type AND b.entity_id = h.entity_id
)
SELECT entity_type, entity_id, max_budget, min(hour) AS hour, arg_min(total - spend, hour) AS before
FROM running
WHERE total >= max_budget - $tolerance * greatest(1.0, max_budget)
GROUP BY ALL
