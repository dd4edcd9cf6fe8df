-- Keys as reconciliation sees them (recorded spend, budget, flags), read in the reconciliation snapshot.
SELECT token AS entity_id, COALESCE(key_alias, key_name, token) AS name, user_id, team_id, spend AS recorded_spend,
       max_budget, COALESCE(blocked, FALSE) AS blocked, COALESCE(metadata, '{}'::jsonb) AS metadata, created_at
FROM "LiteLLM_VerificationToken"
