-- Catalog facts that tell the flavour (llmusage.sources.detect): a spend log table, LiteLLM's
-- "startTime" column on it, and Prisma's migration table; in the current schema, no table scanned.
SELECT
    to_regclass('"LiteLLM_SpendLogs"') IS NOT NULL AS has_spend_logs,
    EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'LiteLLM_SpendLogs' AND column_name = 'startTime'
    ) AS has_start_time,
    to_regclass('"_prisma_migrations"') IS NOT NULL AS has_prisma_migrations
