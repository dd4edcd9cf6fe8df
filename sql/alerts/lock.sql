-- Take the given alerts for delivery, unless another run holds them or has sent them meanwhile.
SELECT alert_id, sent_to
FROM llmusage.alerts
WHERE alert_id = ANY(%(ids)s) AND sent_at IS NULL
ORDER BY alert_id
FOR UPDATE SKIP LOCKED
