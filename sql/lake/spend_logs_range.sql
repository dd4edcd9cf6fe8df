-- The spend logs of one range of days, read by the ADBC driver as a binary COPY stream.
-- {columns} is a list of quoted identifiers; {since} and {until} are timestamps quoted client-side by
-- psycopg (sql.Literal). ADBC only streams COPY for queries without server-side bind parameters (with
-- them, 2M rows took 4.9 s instead of 1.8 s), and literal bounds let the planner pick a sequential scan
-- over the index when the days are spread over the whole table.
SELECT {columns}
FROM "LiteLLM_SpendLogs"
WHERE created_at >= {since} AND created_at < {until}
