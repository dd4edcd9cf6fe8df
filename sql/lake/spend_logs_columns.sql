-- The columns of the spend log table, in table order (a column added later shows up here).
SELECT column_name
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'LiteLLM_SpendLogs'
ORDER BY ordinal_position
