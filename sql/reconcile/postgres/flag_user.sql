-- Flag a user over budget: the llmusage_block marker (reason, ledger, budget) in user_metadata.
UPDATE "LiteLLM_UserTable"
SET user_metadata = COALESCE(user_metadata, '{}'::jsonb) || jsonb_build_object('llmusage_block', %(marker)s::jsonb)
WHERE "user_id" = %(entity_id)s
