-- Per team: spend in the lake since each team's budget window start (NULL start: all of it), in the month
-- [$month_start, $month_end) (the month asked for, never the months after it), and over the $rate_days days
-- up to the lake's latest log (for a daily rate); all by the request's event time (UTC).
SELECT
    s.team_id,
    sum(s.spend) FILTER (WHERE w.window_start IS NULL OR s.event_time >= w.window_start) AS window_spend,
    COALESCE(sum(s.spend) FILTER (WHERE s.day >= $month_start AND s.day < $month_end), 0) AS month_spend,
    COALESCE(sum(s.spend) FILTER (WHERE s.event_time >= $rate_from AND s.event_time <= $rate_to), 0) AS rate_spend
FROM spend_lines AS s
LEFT JOIN team_windows AS w ON w.team_id = s.team_id
WHERE s.team_id IS NOT NULL
GROUP BY s.team_id
