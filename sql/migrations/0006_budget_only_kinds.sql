-- flavour: both
-- Reconciliation's status table takes a LiteLLM database's end users, tags and team memberships too
-- (the budget-only kinds of llmusage.entities): they have budgets there and a status like any other
-- entity. Only llmusage's own table changes.

ALTER TABLE llmusage.budget_status DROP CONSTRAINT llmusage_budget_status_entity_type_check;
ALTER TABLE llmusage.budget_status ADD CONSTRAINT budget_status_entity_type_check
    CHECK (entity_type IN ('key', 'user', 'team', 'organization', 'end_user', 'tag', 'team_member'));
