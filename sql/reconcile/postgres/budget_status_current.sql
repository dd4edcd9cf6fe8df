-- The status every entity had after the previous write-back.
SELECT entity_type, entity_id, status FROM llmusage.budget_status
