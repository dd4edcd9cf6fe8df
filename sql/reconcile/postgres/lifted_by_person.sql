-- Blocks llmusage set that a person lifted, with the budget period they were lifted in ('' for a lifetime
-- budget): llmusage does not block the entity again within that period.
SELECT DISTINCT entity_type, entity_id, COALESCE(detail ->> 'period_start', '') AS period_start
FROM llmusage.budget_events
WHERE action = 'unflagged' AND detail ->> 'by' = 'person'
