-- The spend logs of one range of days, read by the ADBC driver as a binary COPY stream. ADBC only uses
-- COPY for queries without bind parameters, so the bounds are bound beforehand into two session
-- settings (set_range.sql) and read back here; {columns} is a list of quoted identifiers.
SELECT {columns}
FROM "LiteLLM_SpendLogs"
WHERE created_at >= current_setting('llmusage.extract_from')::timestamp
  AND created_at < current_setting('llmusage.extract_until')::timestamp
