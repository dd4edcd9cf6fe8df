-- Per entity with a budget period (LiteLLM flavour): the spend of its logs in the first minutes of the
-- period, up to one run of LiteLLM's reset job after the start ($seconds). Those logs can have been added
-- to the counter before the job zeroed it, so a counter below the ledger by at most this much is the reset
-- job's lag, not lost spend. The logs are the window's first day's (`edge_entity_logs`).
SELECT e.entity_type, e.entity_id, sum(e.spend) AS reset_lag_spend
FROM edge_entity_logs AS e
JOIN windows AS w ON w.entity_type = e.entity_type AND w.entity_id = e.entity_id
WHERE e.event_time >= w.window_start
  AND e.event_time < w.window_start + to_seconds(CAST($seconds AS DOUBLE))
GROUP BY ALL
