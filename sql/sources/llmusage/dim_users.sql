-- Dimension snapshot: every row and column of LiteLLM_UserTable.
SELECT * FROM "LiteLLM_UserTable"
