-- Each daily table against the logs, per UTC day, with the difference split into its causes. Inputs:
-- `daily_totals` (the tables summed per date, PostgreSQL), `daily_present` (the tables that exist),
-- `daily_logs` (daily_logs_per_table.sql), `daily_tag_unlogged` (daily_tag_unlogged.sql), `daily_log_grain`
-- for `history_day` (the UTC day of the oldest log kept anywhere, lake or database; NULL without logs) and
-- `daily_bounds` for `current_day` (the as-of instant's UTC day). Where a day stands decides which causes can
-- explain it:
-- - before `history_day`, or on it (retention deleted its earlier part): what the surviving logs' tag
--   fan-out does not explain is `retention`, never below zero;
-- - after it: `tag_fan_out` of the logs, and `unlogged_failures` (the tables' failed requests beyond the
--   failed logs; in the tag table as daily_tag_unlogged.sql counts them, their other tags adding to the fan-out;
--   such failures cost nothing);
-- - from `current_day` on (rows and logs are still being written): what is left is `current_day`, not judged.
-- Whatever no cause explains is `unexplained` (the caller applies the float tolerance to spend).
WITH bounds AS (
    SELECT
        (SELECT min(day) FROM daily_log_grain) AS history_day,
        (SELECT current_day FROM daily_bounds) AS current_day
), days AS (
    SELECT
        COALESCE(d."table", l."table") AS "table",
        COALESCE(d.day, l.day) AS day,
        COALESCE(d.spend, 0.0) AS daily_spend,
        COALESCE(l.spend, 0.0) AS logs_spend,
        COALESCE(d.requests, 0) AS daily_requests,
        COALESCE(l.requests, 0) AS logs_requests,
        COALESCE(d.failed, 0) AS daily_failed,
        COALESCE(l.failed, 0) AS logs_failed,
        COALESCE(l.fan_out_spend, 0.0) AS fan_out_spend,
        COALESCE(l.fan_out_requests, 0) AS fan_out_requests
    FROM daily_totals AS d
    FULL JOIN daily_logs AS l ON l."table" = d."table" AND l.day = d.day
), placed AS (
    SELECT
        x.*,
        x.daily_spend - x.logs_spend AS diff_spend,
        x.daily_requests - x.logs_requests AS diff_requests,
        CASE
            WHEN b.history_day IS NULL OR x.day < b.history_day THEN 'before_history'
            WHEN x.day >= b.current_day THEN 'current'
            WHEN x.day = b.history_day THEN 'history_edge'
            ELSE 'settled'
        END AS position,
        CASE WHEN x."table" = 'LiteLLM_DailyTagSpend' THEN COALESCE(t.requests, 0)
             ELSE greatest(x.daily_failed - x.logs_failed, 0) END AS unlogged,
        CASE WHEN x."table" = 'LiteLLM_DailyTagSpend' THEN COALESCE(t.fan_out_requests, 0) ELSE 0 END
            AS unlogged_fan_out
    FROM days AS x
    CROSS JOIN bounds AS b
    LEFT JOIN daily_tag_unlogged AS t ON t.day = x.day
    WHERE x."table" IN (SELECT "table" FROM daily_present)
), causes AS (
    SELECT
        p.*,
        p.position IN ('before_history', 'history_edge') AS retained,
        p.fan_out_spend AS tag_fan_out_spend,
        p.fan_out_requests
            + CASE WHEN p.position IN ('before_history', 'history_edge') THEN 0 ELSE p.unlogged_fan_out END
            AS tag_fan_out_requests,
        CASE WHEN p.position IN ('before_history', 'history_edge') THEN 0 ELSE p.unlogged END
            AS unlogged_failures_requests
    FROM placed AS p
), settled AS (
    SELECT
        c.*,
        CASE WHEN c.retained THEN greatest(c.diff_spend - c.tag_fan_out_spend, 0.0) ELSE 0.0 END
            AS retention_spend,
        CASE WHEN c.retained THEN greatest(c.diff_requests - c.tag_fan_out_requests, 0) ELSE 0 END
            AS retention_requests,
        CASE WHEN c.position = 'current' THEN c.diff_spend - c.tag_fan_out_spend ELSE 0.0 END
            AS current_day_spend,
        CASE WHEN c.position = 'current'
             THEN c.diff_requests - c.tag_fan_out_requests - c.unlogged_failures_requests ELSE 0 END
            AS current_day_requests
    FROM causes AS c
)
SELECT
    "table", day, position, (SELECT history_day FROM bounds) AS history_day,
    daily_spend, logs_spend, daily_requests, logs_requests,
    retention_spend, retention_requests, tag_fan_out_spend, tag_fan_out_requests, unlogged_failures_requests,
    current_day_spend, current_day_requests,
    diff_spend - retention_spend - tag_fan_out_spend - current_day_spend AS unexplained_spend,
    diff_requests - retention_requests - tag_fan_out_requests - unlogged_failures_requests - current_day_requests
        AS unexplained_requests
FROM settled
ORDER BY "table", day
