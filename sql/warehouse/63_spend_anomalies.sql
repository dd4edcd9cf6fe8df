-- Days on which a team's or key's spend was at least 3x its mean daily spend over the 7 days before and
-- at least $1 above it (`llmusage report anomalies` takes these as options; a view cannot bind them).
WITH daily AS (
    SELECT 'team' AS entity_type, COALESCE(team_id, '(none)') AS entity_id, team AS name, day, sum(spend) AS spend
    FROM spend_lines
    GROUP BY ALL
    UNION ALL
    SELECT 'key', COALESCE(api_key, '(none)'), "key", day, sum(spend)
    FROM spend_lines
    GROUP BY ALL
),
judged AS (
    SELECT
        d.entity_type, d.entity_id, d.name, d.day, d.spend,
        COALESCE(sum(b.spend), 0) / 7 AS baseline
    FROM daily AS d
    LEFT JOIN daily AS b
        ON b.entity_type = d.entity_type AND b.entity_id = d.entity_id
        AND b.day >= d.day - 7 AND b.day < d.day
    WHERE d.day >= (SELECT min(day) FROM daily) + 7
    GROUP BY d.entity_type, d.entity_id, d.name, d.day, d.spend
)
SELECT *, spend - baseline AS spend_above_baseline
FROM judged
WHERE spend >= 3 * baseline AND spend - baseline >= 1
