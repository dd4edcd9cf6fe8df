-- Which of LiteLLM's daily spend tables exist in the current schema (catalog only, no table scanned);
-- %(tables)s is the list of their names (llmusage.reconcile.daily_tables.DAILY_TABLES).
SELECT t.name
FROM unnest(CAST(%(tables)s AS text[])) AS t (name)
WHERE to_regclass(quote_ident(t.name)) IS NOT NULL
