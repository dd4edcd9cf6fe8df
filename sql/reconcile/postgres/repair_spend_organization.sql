-- Set a organization's spend column to the ledger by removing the drift measured in the snapshot (a delta,
-- so spend the proxy added since is kept).
UPDATE "LiteLLM_OrganizationTable" SET spend = spend - %(drift)s WHERE "organization_id" = %(entity_id)s
