"""Jobs: ingest by UTC day (spend logs, dimension snapshots, daily rollup); budgets (warehouse,
reconciliation, flags) after it; chargeback by month; retention (old spend logs pruned from PostgreSQL).

Each job carries a tag that the queued run coordinator limits (`pipelines/instance.py`): at most one run
with `llmusage/extract` (ingest, retention: both read and rewrite lake days or the logs behind them) and
one with `llmusage/reconcile` (budgets: one writer of flags and of the warehouse file) at a time; budgets
follow a successful ingest through `reconcile_after_ingest_sensor`, and the coordinator dequeues an ingest
(higher `dagster/priority`) before a budgets run waiting beside it."""

import dagster as dg

EXTRACT_TAG = "llmusage/extract"
RECONCILE_TAG = "llmusage/reconcile"
PRIORITY_TAG = "dagster/priority"

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("ingest") | dg.AssetSelection.assets("spend_daily"),
    description="Extract the day's spend logs (with the quality suite), snapshot dimensions, roll the day up.",
    tags={EXTRACT_TAG: "ingest", PRIORITY_TAG: "1"},
)

budgets_job = dg.define_asset_job(
    "budgets_job",
    selection=dg.AssetSelection.assets("warehouse") | dg.AssetSelection.groups("budgets"),
    description="Rebuild the warehouse, reconcile every budget, write flags back to PostgreSQL.",
    tags={RECONCILE_TAG: "budgets"},
)

chargeback_job = dg.define_asset_job(
    "chargeback_job",
    selection=dg.AssetSelection.assets("chargeback_statement"),
    description="Produce the month's chargeback statement (frozen once the month is closed).",
)

retention_job = dg.define_asset_job(
    "retention_job",
    selection=dg.AssetSelection.assets("spend_logs_retention"),
    description="Prune spend logs older than LLMUSAGE_RETENTION_DAYS from PostgreSQL, verified days only.",
    tags={EXTRACT_TAG: "retention"},
)
