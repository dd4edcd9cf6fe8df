-- Lift the flag llmusage set on a key back under budget (a block without the marker is a person's and stays).
UPDATE "LiteLLM_VerificationToken"
SET blocked = FALSE, metadata = metadata - 'llmusage_block'
WHERE "token" = %(entity_id)s AND metadata ? 'llmusage_block'
