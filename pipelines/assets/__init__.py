"""Assets, grouped by stage: ingest (spend logs, dimension snapshots), warehouse, budgets, chargeback,
retention."""
