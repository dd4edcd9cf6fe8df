-- One row per day pruned (per run that deleted rows of it): what went, in how many batches, against what
-- the lake partition holds.
INSERT INTO llmusage.spend_log_prunes (
    day, flavour, keep_days, started_at, rows_deleted, spend_deleted, batches, batch_size, lake_rows,
    lake_spend, rows_left, detail
) VALUES (
    %(day)s, %(flavour)s, %(keep_days)s, %(started_at)s, %(rows_deleted)s, %(spend_deleted)s, %(batches)s,
    %(batch_size)s, %(lake_rows)s, %(lake_spend)s, %(rows_left)s, %(detail)s
)
