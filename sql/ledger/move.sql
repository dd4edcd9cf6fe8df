-- An old database's ledger (`llmusage_schema_migrations`, in the search path's schema) moves into the
-- schema `llmusage` under its new name, rows kept, gains the outcome column and its key index is named as
-- a fresh ledger's (`create.sql`), so a moved ledger and a new one are alike; in one transaction.
ALTER TABLE llmusage_schema_migrations SET SCHEMA llmusage;
ALTER TABLE llmusage.llmusage_schema_migrations RENAME TO schema_migrations;
ALTER TABLE llmusage.schema_migrations
    ADD COLUMN outcome TEXT NOT NULL DEFAULT 'applied' CHECK (outcome IN ('applied', 'skipped'));
ALTER INDEX llmusage.llmusage_schema_migrations_pkey RENAME TO schema_migrations_pkey;
