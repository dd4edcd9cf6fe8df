-- POST /key/generate: store a new key by its SHA-256 digest (never the key itself).
INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, user_id, team_id, permissions, max_budget,
                                         models, metadata, expires, blocked, spend)
VALUES (%(token)s, %(key_name)s, %(key_alias)s, %(user_id)s, %(team_id)s, %(permissions)s, %(max_budget)s,
        %(models)s, %(metadata)s, %(expires)s, FALSE, 0)
RETURNING token, key_name, key_alias, user_id, team_id, max_budget, models, metadata, expires, created_at
