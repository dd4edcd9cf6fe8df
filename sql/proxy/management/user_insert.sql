-- POST /user/new.
INSERT INTO "LiteLLM_UserTable" (user_id, user_email, user_role, teams, organization_id, max_budget,
                                 user_metadata, spend)
VALUES (%(user_id)s, %(user_email)s, %(user_role)s, %(teams)s, %(organization_id)s, %(max_budget)s,
        %(metadata)s, 0)
RETURNING user_id, user_email, user_role, teams, organization_id, max_budget, spend, user_metadata, created_at
