-- Users as reconciliation sees them; their flag lives in user_metadata (they have no blocked column).
SELECT user_id AS entity_id, COALESCE(user_email, user_id) AS name, organization_id, spend AS recorded_spend,
       max_budget, FALSE AS blocked, COALESCE(user_metadata, '{}'::jsonb) AS metadata, created_at
FROM "LiteLLM_UserTable"
