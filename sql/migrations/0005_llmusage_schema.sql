-- flavour: both
-- llmusage's own objects live in a schema of their own, `llmusage`, in both flavours, so that LiteLLM's
-- migrations (or `prisma db push`) never meet them. Reconciliation's status and events tables move there
-- from the search path's schema where 0004 created them; SET SCHEMA keeps their rows, indexes,
-- constraints and the events' sequence. The schema exists already: the runner creates it (or moves the
-- old ledger into it) before any migration's SQL runs, and a schema created beforehand by a DBA is used as
-- it is (CREATE SCHEMA IF NOT EXISTS would need CREATE on the database even then).

ALTER TABLE llmusage_budget_status SET SCHEMA llmusage;
ALTER TABLE llmusage.llmusage_budget_status RENAME TO budget_status;

ALTER TABLE llmusage_budget_events SET SCHEMA llmusage;
ALTER TABLE llmusage.llmusage_budget_events RENAME TO budget_events;
