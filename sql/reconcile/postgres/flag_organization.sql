-- Flag a organization over budget: the llmusage_block marker (reason, ledger, budget) in metadata.
UPDATE "LiteLLM_OrganizationTable"
SET metadata = COALESCE(metadata, '{}'::jsonb) || jsonb_build_object('llmusage_block', %(marker)s::jsonb)
WHERE "organization_id" = %(entity_id)s
