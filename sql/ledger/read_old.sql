-- An old database's ledger, not yet moved (every record there is an applied migration).
SELECT version, name, checksum, applied_at, 'applied' AS outcome FROM llmusage_schema_migrations ORDER BY version
