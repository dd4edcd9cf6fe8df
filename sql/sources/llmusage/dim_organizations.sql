-- Dimension snapshot: every row and column of LiteLLM_OrganizationTable.
SELECT * FROM "LiteLLM_OrganizationTable"
