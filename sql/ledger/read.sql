-- Every migration the ledger records, applied or skipped (not applicable to the database's flavour).
SELECT version, name, checksum, applied_at, outcome FROM llmusage.schema_migrations ORDER BY version
