-- What the spend sensor watches on a LiteLLM database: the newest log's event time (an index probe) and how
-- many keys, users, teams and organizations have their period counter at or over the warning threshold of
-- their budget (an organization's and a budget_id key's budget is its LiteLLM_BudgetTable row).
SELECT
    (SELECT max("startTime") FROM "LiteLLM_SpendLogs") AS newest_log,
    (SELECT count(*) FROM (
        SELECT k.spend, COALESCE(k.max_budget, b.max_budget) AS max_budget
        FROM "LiteLLM_VerificationToken" AS k LEFT JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = k.budget_id
        UNION ALL SELECT spend, max_budget FROM "LiteLLM_UserTable"
        UNION ALL SELECT spend, max_budget FROM "LiteLLM_TeamTable"
        UNION ALL SELECT o.spend, b.max_budget
        FROM "LiteLLM_OrganizationTable" AS o JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = o.budget_id
    ) AS e WHERE max_budget IS NOT NULL AND spend >= %(threshold)s * max_budget) AS at_threshold
