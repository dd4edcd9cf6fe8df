-- Current block state of every user and whether llmusage set it (the llmusage_block marker), at write-back time.
SELECT "user_id" AS entity_id, FALSE AS blocked, COALESCE(user_metadata, '{}'::jsonb) ? 'llmusage_block' AS flagged
FROM "LiteLLM_UserTable"
