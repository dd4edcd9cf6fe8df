-- Flag a key over budget: blocked and the llmusage_block marker (reason, ledger, budget) in metadata.
UPDATE "LiteLLM_VerificationToken"
SET blocked = TRUE, metadata = COALESCE(metadata, '{}'::jsonb) || jsonb_build_object('llmusage_block', %(marker)s::jsonb)
WHERE "token" = %(entity_id)s
