-- Lift the flag llmusage set on a user back under budget (a block without the marker is a person's and stays).
UPDATE "LiteLLM_UserTable"
SET user_metadata = user_metadata - 'llmusage_block'
WHERE "user_id" = %(entity_id)s AND user_metadata ? 'llmusage_block'
