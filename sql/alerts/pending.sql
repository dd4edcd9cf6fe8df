-- Alerts not yet delivered to every webhook, oldest first.
SELECT alert_id, kind, entity_type, entity_id, period_start, payload, sent_to
FROM llmusage.alerts
WHERE sent_at IS NULL
ORDER BY alert_id
