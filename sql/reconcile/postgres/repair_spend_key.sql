-- Set a key's spend column to the ledger by removing the drift measured in the snapshot (a delta,
-- so spend the proxy added since is kept).
UPDATE "LiteLLM_VerificationToken" SET spend = spend - %(drift)s WHERE "token" = %(entity_id)s
