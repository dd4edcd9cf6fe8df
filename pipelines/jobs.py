"""Jobs: ingest by UTC day (spend logs, dimension snapshots, daily rollup); budgets (warehouse,
reconciliation, flags) after it; chargeback by month; retention (old spend logs pruned from PostgreSQL)."""

import dagster as dg

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("ingest") | dg.AssetSelection.assets("spend_daily"),
    description="Extract the day's spend logs (with the quality suite), snapshot dimensions, roll the day up.",
)

budgets_job = dg.define_asset_job(
    "budgets_job",
    selection=dg.AssetSelection.assets("warehouse") | dg.AssetSelection.groups("budgets"),
    description="Rebuild the warehouse, reconcile every budget, write flags back to PostgreSQL.",
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
)
