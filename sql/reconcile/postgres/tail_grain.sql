-- The logs from the cutoff on, summed at the ledger's grain (key, user, team, organization, model, UTC day
-- of event time). The subquery is the flavour's normalized spend log query from the cutoff on
-- (llmusage.sources.spend_logs, `range_sql`): PostgreSQL flattens it, so the cutoff filters the raw event
-- time column through its index and the columns not summed here are never computed.
SELECT api_key, user_id, team_id, organization_id, model, CAST(event_time AS DATE) AS day, sum(spend) AS spend,
       count(*) AS requests
FROM ({logs}) AS l
GROUP BY 1, 2, 3, 4, 5, 6
