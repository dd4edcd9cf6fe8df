-- The migration ledger, created inside the transaction of the first migration, so a failed first
-- migration leaves none behind.
CREATE TABLE llmusage.schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    outcome TEXT NOT NULL DEFAULT 'applied' CHECK (outcome IN ('applied', 'skipped'))
)
