-- Lift the flag llmusage set on a organization back under budget (a block without the marker is a person's and stays).
UPDATE "LiteLLM_OrganizationTable"
SET metadata = metadata - 'llmusage_block'
WHERE "organization_id" = %(entity_id)s AND metadata ? 'llmusage_block'
