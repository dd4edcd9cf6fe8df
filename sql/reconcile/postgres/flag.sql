-- Flag an entity over budget (one kind at a time: composed by llmusage.entities.compose): the block marker
-- (reason, ledger, budget) in its metadata column and, where the gateway honours it, blocked.
UPDATE {table}
SET {block} {metadata} = COALESCE({metadata}, '{{}}'::jsonb) || jsonb_build_object({block_marker}, %(marker)s::jsonb)
WHERE {id} = %(entity_id)s
