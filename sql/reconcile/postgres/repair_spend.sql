-- Set an entity's spend column to the ledger by removing the drift measured in the snapshot (a delta, so
-- spend the proxy added since is kept). Composed per kind by llmusage.entities.compose.
UPDATE {table} SET spend = spend - %(drift)s WHERE {id} = %(entity_id)s
