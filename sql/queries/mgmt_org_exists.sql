-- Whether an organization exists (management input validation).
SELECT 1 FROM "LiteLLM_OrganizationTable" WHERE organization_id = %(organization_id)s
