"""Reconciliation: ledger spend (the logs) against recorded spend (the `spend` columns) against budgets.

`compute.reconcile` returns one row per key, user, team and organization, plus rows for spend whose
key, user or team no longer exists (status `orphaned`); `apply.write_back` writes flags, statuses and
events to PostgreSQL. See `compute.py` for how the ledger is assembled.
"""

from llmusage.reconcile.apply import ApplyReport, write_back
from llmusage.reconcile.compute import ReconcileOptions, Reconciliation, reconcile

__all__ = ["ApplyReport", "ReconcileOptions", "Reconciliation", "reconcile", "write_back"]
