-- The database's clock as a naive UTC instant: retention counts --keep-days back from its day.
SELECT (now() AT TIME ZONE 'UTC') AS now_utc
