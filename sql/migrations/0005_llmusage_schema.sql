-- flavour: both
-- llmusage's own objects live in a schema of their own, `llmusage`, in both flavours, so that LiteLLM's
-- migrations (or `prisma db push`) never meet them. Reconciliation's status and events tables move there
-- from the search path's schema where 0004 created them; SET SCHEMA keeps their rows, indexes,
-- constraints and the events' sequence. (The migration ledger is moved by the runner itself, before this.)

CREATE SCHEMA IF NOT EXISTS llmusage;

ALTER TABLE llmusage_budget_status SET SCHEMA llmusage;
ALTER TABLE llmusage.llmusage_budget_status RENAME TO budget_status;

ALTER TABLE llmusage_budget_events SET SCHEMA llmusage;
ALTER TABLE llmusage.llmusage_budget_events RENAME TO budget_events;
