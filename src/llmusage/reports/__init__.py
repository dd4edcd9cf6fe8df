"""Reports and chargeback over the lake: each report is a function returning a polars DataFrame.

`spend`, `top` (spend.py), `budgets`, `drift` (budgets.py), `anomalies` (anomalies.py), `forecast`
(forecast.py), `chargeback_lines` / `chargeback` (chargeback.py), `daily_spend` / `chart`
(charts.py). All read the lake as of its last extract (see source.py); budgets and drift also read
PostgreSQL through reconciliation.
"""
