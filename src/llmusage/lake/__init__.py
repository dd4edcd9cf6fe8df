"""The Parquet lake and the DuckDB warehouse built over it.

`extract` copies spend logs into day partitions and snapshots the dimensions (`extract.py`, `dims.py`),
`state` remembers what each partition holds, `lock` keeps two extracts from writing at once, `tags`
derives the tag list from the metadata JSON, and `warehouse` builds `warehouse.duckdb` from `sql/warehouse/`.
`layout` names every path under the lake, `lag` the late-row lag window that the extract, reconciliation,
chargeback and the schedules share.
"""
