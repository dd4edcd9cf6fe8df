"""Deterministic synthetic traffic: an organization, its keys and models, and N priced spend logs.

`build_org` makes the entities (`org.py`), `generate_logs` the spend logs in vectorized chunks
(`traffic.py`), and `seed` writes everything to PostgreSQL in one transaction (`loader.py`; the spend
columns, budgets and anomalies written after the logs: `accounts.py`).
"""

from llmusage.devtools.seed.loader import SeedOptions, SeedReport, seed

__all__ = ["SeedOptions", "SeedReport", "seed"]
