-- Append one budget event: a status change, a flag set or lifted, or a spend repair.
INSERT INTO llmusage.budget_events (
    entity_type, entity_id, name, action, old_status, new_status, ledger_spend, recorded_spend, max_budget, detail
) VALUES (
    %(entity_type)s, %(entity_id)s, %(name)s, %(action)s, %(old_status)s, %(new_status)s, %(ledger_spend)s,
    %(recorded_spend)s, %(max_budget)s, %(detail)s
)
