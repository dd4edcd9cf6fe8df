-- LiteLLM's latest applied Prisma migration (finished, not rolled back), for `llmusage db status`.
SELECT migration_name
FROM "_prisma_migrations"
WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
ORDER BY migration_name DESC
LIMIT 1
