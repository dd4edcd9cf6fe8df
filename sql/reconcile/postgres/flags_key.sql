-- Current block state of every key and whether llmusage set it (the llmusage_block marker), at write-back time.
SELECT "token" AS entity_id, COALESCE(blocked, FALSE) AS blocked, COALESCE(metadata, '{}'::jsonb) ? 'llmusage_block' AS flagged
FROM "LiteLLM_VerificationToken"
