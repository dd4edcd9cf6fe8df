-- One migration recorded, in the transaction that applied it (or decided to skip it).
INSERT INTO llmusage.schema_migrations (version, name, checksum, outcome) VALUES (%s, %s, %s, %s)
