-- Every log the daily-table reconciliation reads, at one grain: the lake's before the cutoff
-- (daily_lake_grain.sql) and PostgreSQL's outside the lake (sql/sources/litellm/daily_logs_grain.sql,
-- registered as `daily_pg_grain`); the two never overlap.
CREATE OR REPLACE TEMP TABLE daily_log_grain AS
SELECT day, api_key, has_organization, has_end_user, failed, tags, requests, spend FROM daily_lake_grain
UNION ALL
SELECT day, api_key, has_organization, has_end_user, failed, tags, requests, spend FROM daily_pg_grain
