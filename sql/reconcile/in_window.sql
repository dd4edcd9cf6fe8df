-- The hourly spend that counts against each entity's budget: all of it, or its current window only.
CREATE OR REPLACE TEMP VIEW in_window AS
SELECT h.*
FROM entity_hourly AS h
LEFT JOIN windows AS w ON w.entity_type = h.entity_type AND w.entity_id = h.entity_id
WHERE w.window_start IS NULL OR h.hour >= w.window_start
