"""Retention: pruning old spend logs from the operational PostgreSQL once the lake holds them, verified.

`plan.py` decides, day by day of event time, what may go (the day's lake partition holds exactly what
PostgreSQL holds: rows and spend sum) and what stays and why; `prune.py` deletes the verified days in
small batches by primary key and records one row per day in `llmusage.spend_log_prunes`.
`llmusage retention` and the Dagster asset `spend_logs_retention` call `prune.retention`.
"""
