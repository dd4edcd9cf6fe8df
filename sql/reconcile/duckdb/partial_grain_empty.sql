-- No settled part of a day to add (the cutoff falls on a midnight, or the lake is empty).
CREATE OR REPLACE TEMP TABLE partial_grain AS
SELECT api_key, user_id, team_id, organization_id, model, day, spend, requests FROM tail_grain WHERE FALSE
