-- Flag a team over budget: blocked and the llmusage_block marker (reason, ledger, budget) in metadata.
UPDATE "LiteLLM_TeamTable"
SET blocked = TRUE, metadata = COALESCE(metadata, '{}'::jsonb) || jsonb_build_object('llmusage_block', %(marker)s::jsonb)
WHERE "team_id" = %(entity_id)s
