-- Every key, user, team and organization's budget status as the last reconciliation saved it (the Dagster
-- asset `budget_status` or `llmusage reconcile`, kept in $LLMUSAGE_HOME/reconcile/budget_status.parquet by llmusage.reconcile.store),
-- read at query time: the verdict the budget checks and the flag write-back use, the rows PostgreSQL's
-- llmusage.budget_status holds after it (its threshold, budget windows and orphaned spend included), never a
-- second computation. `{reconciliation}` is that file, or, before any reconciliation has run,
-- `no_reconciliation`: the same columns and no rows.
WITH no_reconciliation AS (
    SELECT
        CAST(NULL AS VARCHAR) AS entity_type,
        CAST(NULL AS VARCHAR) AS entity_id,
        CAST(NULL AS VARCHAR) AS name,
        CAST(NULL AS VARCHAR) AS status,
        CAST(NULL AS DOUBLE) AS ledger_spend,
        CAST(NULL AS DOUBLE) AS recorded_spend,
        CAST(NULL AS DOUBLE) AS drift,
        CAST(NULL AS BOOLEAN) AS drift_ok,
        CAST(NULL AS VARCHAR) AS drift_cause,
        CAST(NULL AS DOUBLE) AS max_budget,
        CAST(NULL AS DOUBLE) AS soft_budget,
        CAST(NULL AS DOUBLE) AS utilization,
        CAST(NULL AS TIMESTAMP) AS first_exceeded_at,
        CAST(NULL AS BIGINT) AS requests,
        CAST(NULL AS STRUCT(model VARCHAR, spend DOUBLE)[]) AS top_models,
        CAST(NULL AS VARCHAR) AS budget_duration,
        CAST(NULL AS TIMESTAMP) AS window_start,
        CAST(NULL AS BOOLEAN) AS blocked,
        CAST(NULL AS BOOLEAN) AS flagged
    WHERE FALSE
)
SELECT
    entity_type, entity_id, name, status, ledger_spend, recorded_spend, drift, drift_ok, drift_cause, max_budget,
    soft_budget, utilization,
    first_exceeded_at, requests, top_models, budget_duration, window_start, blocked, flagged
FROM {reconciliation}
