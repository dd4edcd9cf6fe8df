-- Record one alert unless the same kind, entity, threshold and period was recorded before (sent or not).
INSERT INTO llmusage.alerts (kind, entity_type, entity_id, name, threshold, period_start, payload)
VALUES (%(kind)s, %(entity_type)s, %(entity_id)s, %(name)s, %(threshold)s, %(period_start)s, %(payload)s)
ON CONFLICT ON CONSTRAINT alerts_once DO NOTHING
