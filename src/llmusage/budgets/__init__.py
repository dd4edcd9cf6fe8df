"""Budgets shared by the proxy and reconciliation: the period a budget applies to (`window`)."""
