-- Lift the flag llmusage set on a team back under budget (a block without the marker is a person's and stays).
UPDATE "LiteLLM_TeamTable"
SET blocked = FALSE, metadata = metadata - 'llmusage_block'
WHERE "team_id" = %(entity_id)s AND metadata ? 'llmusage_block'
