-- Insert a batch of spend logs (a JSON array of rows, exactly as spooled) and, in the same statement and
-- transaction, add the spend of the rows *newly inserted* to their key, user, team and organization: a
-- replayed batch counts nothing twice. A log's organization is its team's organization_id, else its user's.
WITH rows AS (
    SELECT *
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
        request_id text, api_key text, model text, api_provider text, total_tokens int, prompt_tokens int,
        completion_tokens int, spend float8, "user" text, team_id text, metadata jsonb, payload jsonb,
        created_at timestamp
    )
),
ins AS (
    INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, api_provider, total_tokens, prompt_tokens,
                                     completion_tokens, spend, "user", team_id, metadata, payload, created_at)
    SELECT request_id, api_key, model, api_provider, total_tokens, prompt_tokens, completion_tokens,
           spend, "user", team_id, COALESCE(metadata, '{}'::jsonb), NULLIF(payload, 'null'::jsonb), created_at
    FROM rows
    ON CONFLICT (request_id) DO NOTHING
    RETURNING api_key, "user", team_id, spend
),
keys AS (
    UPDATE "LiteLLM_VerificationToken" t SET spend = COALESCE(t.spend, 0) + s.total
    FROM (SELECT api_key, sum(spend) AS total FROM ins WHERE api_key IS NOT NULL GROUP BY api_key) s
    WHERE t.token = s.api_key
    RETURNING 1
),
users AS (
    UPDATE "LiteLLM_UserTable" t SET spend = COALESCE(t.spend, 0) + s.total
    FROM (SELECT "user", sum(spend) AS total FROM ins WHERE "user" IS NOT NULL GROUP BY "user") s
    WHERE t.user_id = s."user"
    RETURNING 1
),
teams AS (
    UPDATE "LiteLLM_TeamTable" t SET spend = COALESCE(t.spend, 0) + s.total
    FROM (SELECT team_id, sum(spend) AS total FROM ins WHERE team_id IS NOT NULL GROUP BY team_id) s
    WHERE t.team_id = s.team_id
    RETURNING 1
),
orgs AS (
    UPDATE "LiteLLM_OrganizationTable" t SET spend = COALESCE(t.spend, 0) + s.total
    FROM (
        SELECT COALESCE(tm.organization_id, us.organization_id) AS organization_id, sum(ins.spend) AS total
        FROM ins
        LEFT JOIN "LiteLLM_TeamTable" tm ON tm.team_id = ins.team_id
        LEFT JOIN "LiteLLM_UserTable" us ON us.user_id = ins."user"
        GROUP BY 1
    ) s
    WHERE t.organization_id = s.organization_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM keys), (SELECT count(*) FROM users),
       (SELECT count(*) FROM teams), (SELECT count(*) FROM orgs)
