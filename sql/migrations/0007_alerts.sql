-- flavour: both
-- The alert log: one row per alert, unique per kind, entity, threshold and budget period, so that each is
-- sent once. It is recorded in the transaction of the write-back that found it (never lost) and delivered
-- after commit: `sent_at` stays NULL until every configured webhook took it (`sent_to` holds the
-- fingerprints of those that did), so a receiver that is down gets it on a later run.

CREATE TABLE llmusage.alerts (
    alert_id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('budget_threshold', 'soft_budget', 'forecast', 'quality_check')),
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    name TEXT,
    threshold TEXT NOT NULL,
    period_start TEXT NOT NULL,
    payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at TIMESTAMPTZ,
    sent_to TEXT[] NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    CONSTRAINT alerts_once UNIQUE (kind, entity_type, entity_id, threshold, period_start)
);

CREATE INDEX alerts_pending ON llmusage.alerts (alert_id) WHERE sent_at IS NULL;
