-- What the spend sensor watches: the newest log, the log count, and how many entities have recorded
-- spend at or over the warning threshold of their budget.
SELECT
    (SELECT max(created_at) FROM "LiteLLM_SpendLogs") AS newest_log,
    (SELECT count(*) FROM (
        SELECT spend, max_budget FROM "LiteLLM_VerificationToken"
        UNION ALL SELECT spend, max_budget FROM "LiteLLM_UserTable"
        UNION ALL SELECT spend, max_budget FROM "LiteLLM_TeamTable"
        UNION ALL SELECT spend, max_budget FROM "LiteLLM_OrganizationTable"
    ) AS e WHERE max_budget IS NOT NULL AND spend >= %(threshold)s * max_budget) AS at_threshold
