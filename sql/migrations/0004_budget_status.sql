-- flavour: both
-- Reconciliation's write-back: the current budget status of every entity, and an append-only log of
-- every status change, flag set or lifted, and spend repair.

CREATE TABLE llmusage_budget_status (
    entity_type TEXT NOT NULL CHECK (entity_type IN ('key', 'user', 'team', 'organization')),
    entity_id TEXT NOT NULL,
    name TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'warning', 'exceeded', 'orphaned')),
    ledger_spend DOUBLE PRECISION NOT NULL,
    recorded_spend DOUBLE PRECISION,
    drift DOUBLE PRECISION,
    max_budget DOUBLE PRECISION,
    utilization DOUBLE PRECISION,
    first_exceeded_at TIMESTAMP,
    budget_duration TEXT,
    window_start TIMESTAMP,
    top_models JSONB NOT NULL DEFAULT '[]',
    flagged BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_type, entity_id)
);

CREATE TABLE llmusage_budget_events (
    event_id BIGSERIAL PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    name TEXT,
    action TEXT NOT NULL CHECK (action IN ('status_changed', 'flagged', 'unflagged', 'spend_repaired')),
    old_status TEXT,
    new_status TEXT,
    ledger_spend DOUBLE PRECISION,
    recorded_spend DOUBLE PRECISION,
    max_budget DOUBLE PRECISION,
    detail JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX idx_budget_events_entity ON llmusage_budget_events (entity_type, entity_id, created_at);
