-- An empty old-name ledger beside the new one: left by an older llmusage whose first migration failed.
DROP TABLE llmusage_schema_migrations
