-- The daily spend that counts against each entity's budget: all of it, or its current window only
-- (whole days after the window's first day, plus that day's logs from the window's start on).
CREATE OR REPLACE TEMP TABLE in_window AS
SELECT d.entity_type, d.entity_id, d.model, d.day, d.spend, d.requests
FROM entity_daily AS d
LEFT JOIN windows AS w ON w.entity_type = d.entity_type AND w.entity_id = d.entity_id
WHERE w.window_start IS NULL OR d.day > CAST(w.window_start AS DATE)
UNION ALL
SELECT e.entity_type, e.entity_id, e.model, e.day, sum(e.spend), count(*)
FROM edge_entity_logs AS e
JOIN windows AS w ON w.entity_type = e.entity_type AND w.entity_id = e.entity_id
WHERE e.day = CAST(w.window_start AS DATE) AND e.event_time >= w.window_start
GROUP BY ALL
