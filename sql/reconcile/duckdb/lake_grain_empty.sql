-- No settled day in the lake: every log comes from PostgreSQL.
CREATE OR REPLACE TEMP VIEW lake_grain AS
SELECT api_key, user_id, team_id, organization_id, model, day, spend, requests FROM tail_grain WHERE FALSE
