-- The schema of llmusage's own objects, created with the ledger in the first migration's transaction (or
-- when an old ledger moves in), never on its own; one that exists already is used as it is.
CREATE SCHEMA llmusage
