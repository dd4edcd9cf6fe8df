-- POST /key/block and /key/unblock.
UPDATE "LiteLLM_VerificationToken" SET blocked = %(blocked)s
WHERE token = %(token)s
RETURNING token, key_name, key_alias, user_id, team_id, spend, max_budget, models, metadata, created_at,
          expires, blocked
