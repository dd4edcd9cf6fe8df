-- POST /team/new.
INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id, admins, members, max_budget, models,
                                 blocked, metadata, spend)
VALUES (%(team_id)s, %(team_alias)s, %(organization_id)s, %(admins)s, %(members)s, %(max_budget)s, %(models)s,
        %(blocked)s, %(metadata)s, 0)
RETURNING team_id, team_alias, organization_id, admins, members, max_budget, spend, models, blocked, metadata,
          created_at
