-- Current block state of every organization and whether llmusage set it (the llmusage_block marker), at write-back time.
SELECT "organization_id" AS entity_id, FALSE AS blocked, COALESCE(metadata, '{}'::jsonb) ? 'llmusage_block' AS flagged
FROM "LiteLLM_OrganizationTable"
