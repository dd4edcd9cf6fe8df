-- flavour: both
-- Retention's record: one row per day of spend logs pruned from PostgreSQL (`llmusage retention --apply`,
-- the Dagster asset `spend_logs_retention`), after the day's lake partition was verified against it (rows
-- and spend sum). `batches` is how many short DELETE transactions it took; `rows_left` the day's rows that
-- stayed because the lake does not hold them (late rows). Only llmusage's own schema.

CREATE TABLE llmusage.spend_log_prunes (
    prune_id BIGSERIAL PRIMARY KEY,
    day DATE NOT NULL,
    flavour TEXT NOT NULL CHECK (flavour IN ('llmusage', 'litellm')),
    keep_days INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    rows_deleted BIGINT NOT NULL,
    spend_deleted DOUBLE PRECISION NOT NULL,
    batches INTEGER NOT NULL,
    batch_size INTEGER NOT NULL,
    lake_rows BIGINT NOT NULL,
    lake_spend DOUBLE PRECISION NOT NULL,
    rows_left BIGINT NOT NULL,
    detail JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX spend_log_prunes_day ON llmusage.spend_log_prunes (day);
