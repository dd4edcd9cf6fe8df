-- Failures without a log in the tag table, per UTC day: per (day, key, tag), the tag rows' failed requests
-- beyond the failed logs of that key, day and tag (`daily_tag_failures` from PostgreSQL, `daily_log_grain`).
-- A failure with N tags is N of those: one request and N - 1 of fan-out. How many requests they were is
-- per (day, key) the largest count of any one tag: exact when one tag is on every such failure of the key
-- (LiteLLM merges the key's metadata tags into every request's tags), else the fewest requests the rows
-- allow. The rest is their fan-out.
CREATE OR REPLACE TEMP TABLE daily_tag_unlogged AS
WITH logged AS (
    SELECT g.day, g.api_key, u.tag, sum(g.requests) AS failed
    FROM daily_log_grain AS g, unnest(g.tags) AS u (tag)
    WHERE g.failed
    GROUP BY ALL
), beyond AS (
    SELECT d.day, d.api_key, d.tag, greatest(d.failed - COALESCE(l.failed, 0), 0) AS unlogged
    FROM daily_tag_failures AS d
    LEFT JOIN logged AS l ON l.day = d.day AND l.api_key = d.api_key AND l.tag = d.tag
), per_key AS (
    SELECT day, api_key, max(unlogged) AS requests, sum(unlogged) AS slots
    FROM beyond
    GROUP BY day, api_key
)
SELECT day, sum(requests) AS requests, sum(slots) - sum(requests) AS fan_out_requests
FROM per_key
GROUP BY day
