-- How many records an old-name ledger holds beside the new one (an older llmusage's leftover).
SELECT count(*) FROM llmusage_schema_migrations
