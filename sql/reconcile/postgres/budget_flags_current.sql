-- llmusage's own record of the blocks it holds on a LiteLLM database (where nothing is written into LiteLLM's
-- metadata): after the previous write-back, each entity's status, whether llmusage blocked it, and the start
-- of the budget period it was blocked in (NULL for a lifetime budget).
SELECT entity_type, entity_id, status, flagged, window_start FROM llmusage.budget_status
