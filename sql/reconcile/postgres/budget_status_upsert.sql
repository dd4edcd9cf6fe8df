-- Record an entity's current budget status (one row per entity).
INSERT INTO llmusage.budget_status (
    entity_type, entity_id, name, status, ledger_spend, recorded_spend, drift, max_budget, utilization,
    first_exceeded_at, budget_duration, window_start, top_models, flagged, updated_at
) VALUES (
    %(entity_type)s, %(entity_id)s, %(name)s, %(status)s, %(ledger_spend)s, %(recorded_spend)s, %(drift)s,
    %(max_budget)s, %(utilization)s, %(first_exceeded_at)s, %(budget_duration)s, %(window_start)s,
    %(top_models)s, %(flagged)s, now()
)
ON CONFLICT (entity_type, entity_id) DO UPDATE SET
    name = EXCLUDED.name, status = EXCLUDED.status, ledger_spend = EXCLUDED.ledger_spend,
    recorded_spend = EXCLUDED.recorded_spend, drift = EXCLUDED.drift, max_budget = EXCLUDED.max_budget,
    utilization = EXCLUDED.utilization, first_exceeded_at = EXCLUDED.first_exceeded_at,
    budget_duration = EXCLUDED.budget_duration, window_start = EXCLUDED.window_start,
    top_models = EXCLUDED.top_models, flagged = EXCLUDED.flagged, updated_at = now()
