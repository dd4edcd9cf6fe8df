-- The schema of llmusage's own objects, created with the first record of the ledger (or when an old
-- ledger moves in), never on its own.
CREATE SCHEMA llmusage
