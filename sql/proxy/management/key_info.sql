-- GET /key/info: one key by its digest (the digest is what is returned; the key itself is never stored).
SELECT token, key_name, key_alias, user_id, team_id, permissions, spend, max_budget, models, metadata,
       created_at, expires, COALESCE(blocked, FALSE) AS blocked
FROM "LiteLLM_VerificationToken"
WHERE token = %(token)s
