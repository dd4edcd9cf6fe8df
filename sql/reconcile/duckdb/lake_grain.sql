-- The settled days of the lake at the ledger's grain, from their daily rollups (`rollup_files`, each
-- built from its partition as it is now; see llmusage.lake.rollups); every log counts as a request here,
-- failed and cached ones too, as in the tail PostgreSQL sums.
CREATE OR REPLACE TEMP VIEW lake_grain AS
SELECT api_key, user_id, team_id, organization_id, model, CAST(day AS DATE) AS day, spend, CAST(requests + failed_requests + cached_requests AS BIGINT) AS requests
FROM rollup_files
