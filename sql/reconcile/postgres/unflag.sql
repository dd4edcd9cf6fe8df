-- Lift the flag llmusage set on an entity back under budget (composed per kind by llmusage.entities.compose):
-- the marker and, where the gateway honours it, blocked. A block without the marker is a person's and stays.
UPDATE {table}
SET {unblock} {metadata} = {metadata} - {block_marker}
WHERE {id} = %(entity_id)s AND {metadata} ? {block_marker}
