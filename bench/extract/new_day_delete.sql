-- Bench only: removes the day new_day_insert.sql added.
DELETE FROM "LiteLLM_SpendLogs" WHERE request_id LIKE 'bench-newday-%'
