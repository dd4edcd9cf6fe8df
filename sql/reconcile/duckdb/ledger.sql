-- Ledger spend, requests and the top models (by spend, at most 3) of every entity with logs.
WITH per_model AS (
    SELECT entity_type, entity_id, model, sum(spend) AS spend, sum(requests) AS requests
    FROM in_window
    GROUP BY ALL
)
SELECT
    entity_type,
    entity_id,
    sum(spend) AS ledger_spend,
    CAST(sum(requests) AS BIGINT) AS requests,
    list({'model': model, 'spend': spend} ORDER BY spend DESC, model)[1:3] AS top_models
FROM per_model
GROUP BY ALL
