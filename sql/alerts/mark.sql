-- After a delivery attempt: the webhooks that have the alert, the attempts, the last error, and `sent_at`
-- once every configured webhook has it.
UPDATE llmusage.alerts
SET sent_to = %(sent_to)s,
    attempts = attempts + 1,
    last_error = %(last_error)s,
    sent_at = CASE WHEN %(complete)s THEN now() END
WHERE alert_id = %(alert_id)s
