"""Dimension snapshots: keys, users, teams, organizations and models into `lake/dims/<name>.parquet`.

These tables are small (thousands of rows), so each is read whole with ADBC and replaced by an
aside-then-rename write on every extract; JSON columns become text and timestamps UTC, as in spend logs.
Each flavour has its own queries (`sql/sources/<flavour>/dim_<name>.sql`): on a LiteLLM database no
password, no encrypted `litellm_params`, and an organization's budget from its budget row. The flavour is
written beside the snapshots (`dims/flavour.txt`) for lake-only readers (the quality suite).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from llmusage.lake.layout import DIM_TABLES, aside_path, dim_path, dims_dir, flavour_path


def snapshot_dims(url: str, lake_dir: Path) -> dict[str, int]:
    """Write every dimension snapshot; returns rows per dimension."""
    from llmusage.lake.reader import ArrowSession

    dims_dir(lake_dir).mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    from llmusage.pg.connect import connect
    from llmusage.sources.spend_logs import spend_log_source

    with connect(url) as conn:
        source = spend_log_source(conn)
    with ArrowSession(url) as session:
        for name in DIM_TABLES:
            with session.query(source.query(f"dim_{name}")) as batches:
                table = _normalize(batches.read_all())
            target = dim_path(lake_dir, name)
            aside = aside_path(target)
            pq.write_table(table, aside, compression="zstd")
            os.replace(aside, target)
            counts[name] = table.num_rows
    flavour_path(lake_dir).write_text(source.flavour.value + "\n")
    return counts


def read_flavour(lake_dir: Path) -> str | None:
    """The flavour of the database the lake's snapshots came from (None before any extract)."""
    try:
        return flavour_path(lake_dir).read_text().strip() or None
    except FileNotFoundError:
        return None


def _normalize(table: pa.Table) -> pa.Table:
    columns = []
    fields = []
    for name, column in zip(table.schema.names, table.columns, strict=True):
        chunks = [c.storage if isinstance(c.type, pa.BaseExtensionType) else c for c in column.chunks]
        typ = chunks[0].type if chunks else column.type
        if isinstance(typ, pa.BaseExtensionType):
            typ = typ.storage_type
        column = pa.chunked_array(chunks, type=typ)
        if pa.types.is_timestamp(typ) and typ.tz is None:
            column = column.cast(pa.timestamp(typ.unit, tz="UTC"))
        columns.append(column)
        fields.append(pa.field(name, column.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))
