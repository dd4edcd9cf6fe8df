-- Dimension snapshot: every row and column of LiteLLM_TeamTable.
SELECT * FROM "LiteLLM_TeamTable"
