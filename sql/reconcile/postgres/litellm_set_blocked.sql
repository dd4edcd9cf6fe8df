-- Block or unblock a LiteLLM key or team in its table (when LiteLLM's management API is not configured):
-- only the `blocked` column LiteLLM itself honours, nothing else of LiteLLM's rows. Composed per kind by
-- llmusage.entities.compose (keys and teams only).
UPDATE {table} SET blocked = %(blocked)s WHERE {id} = %(entity_id)s
