-- Set a user's spend column to the ledger by removing the drift measured in the snapshot (a delta,
-- so spend the proxy added since is kept).
UPDATE "LiteLLM_UserTable" SET spend = spend - %(drift)s WHERE "user_id" = %(entity_id)s
