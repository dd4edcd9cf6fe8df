-- Current block state of every entity of a kind and whether llmusage set it (the block marker), at
-- write-back time (composed per kind by llmusage.entities.compose; kinds without blocked read FALSE).
SELECT {id} AS entity_id, {blocked} AS blocked, COALESCE({metadata}, '{{}}'::jsonb) ? {block_marker} AS flagged
FROM {table}
