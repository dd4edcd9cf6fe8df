-- Dimension snapshot: every row and column of LiteLLM_ProxyModelTable.
SELECT * FROM "LiteLLM_ProxyModelTable"
