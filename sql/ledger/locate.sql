-- Where the migration ledger is (llmusage.pg.ledger): in the schema `llmusage` (since 0005), or under its
-- old name in the search path's schema (public), and whether the schema `llmusage` exists.
SELECT
    to_regclass('llmusage.schema_migrations') IS NOT NULL AS ledger,
    to_regclass('llmusage_schema_migrations') IS NOT NULL AS old_ledger,
    to_regnamespace('llmusage') IS NOT NULL AS schema
