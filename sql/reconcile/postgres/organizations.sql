-- Organizations as reconciliation sees them; their flag lives in metadata.
SELECT organization_id AS entity_id, COALESCE(organization_alias, organization_id) AS name, spend AS recorded_spend,
       max_budget, FALSE AS blocked, COALESCE(metadata, '{}'::jsonb) AS metadata, created_at
FROM "LiteLLM_OrganizationTable"
