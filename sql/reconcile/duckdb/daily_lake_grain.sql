-- The lake's logs before the cutoff (`daily_lake_files`: the partitions up to the cutoff's day; `daily_bounds`
-- holds the cutoff), summed at the grain of sql/sources/litellm/daily_logs_grain.sql: UTC day (the partition
-- key), key ('' for none), whether the log has an organization and an end user, whether it failed, and its
-- distinct non-empty tags, sorted. The lake is normalized: absent ids are already NULL.
CREATE OR REPLACE TEMP TABLE daily_lake_grain AS
SELECT
    CAST("date" AS DATE) AS day,
    COALESCE(api_key, '') AS api_key,
    organization_id IS NOT NULL AS has_organization,
    end_user IS NOT NULL AS has_end_user,
    COALESCE(status, 'success') <> 'success' AS failed,
    list_sort(list_distinct(list_filter(COALESCE(tags, []), lambda t: t <> ''))) AS tags,
    count(*) AS requests,
    COALESCE(sum(spend), 0) AS spend
FROM daily_lake_files
WHERE CAST(event_time AS TIMESTAMP) < (SELECT cutoff FROM daily_bounds)
GROUP BY ALL
