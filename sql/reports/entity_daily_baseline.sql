-- Daily spend per team and per key for the days $start..$end, each against its mean daily spend over the
-- $baseline_days days before it (days without spend count as zero).
WITH daily AS (
    SELECT 'team' AS entity_type, COALESCE(team_id, '(none)') AS entity_id, team AS name, day, sum(spend) AS spend
    FROM spend_lines
    WHERE day >= $start - CAST($baseline_days AS INTEGER) AND day <= $end
    GROUP BY ALL
    UNION ALL
    SELECT 'key', COALESCE(api_key, '(none)'), "key", day, sum(spend)
    FROM spend_lines
    WHERE day >= $start - CAST($baseline_days AS INTEGER) AND day <= $end
    GROUP BY ALL
)
SELECT
    d.entity_type,
    d.entity_id,
    d.name,
    d.day,
    d.spend,
    COALESCE(sum(b.spend), 0) / CAST($baseline_days AS INTEGER) AS baseline,
    count(b.day) AS baseline_active_days
FROM daily AS d
LEFT JOIN daily AS b
    ON b.entity_type = d.entity_type
    AND b.entity_id = d.entity_id
    AND b.day >= d.day - CAST($baseline_days AS INTEGER)
    AND b.day < d.day
WHERE d.day >= $start AND d.day <= $end
GROUP BY d.entity_type, d.entity_id, d.name, d.day, d.spend
