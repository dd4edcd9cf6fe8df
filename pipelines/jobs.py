"""Jobs: ingest by UTC day (spend logs, dimension snapshots, daily rollup); budgets (warehouse,
reconciliation, flags) after it."""

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
