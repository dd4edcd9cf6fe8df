"""Dagster table metadata (`MetadataValue.table`, rendered by the UI as a table, not a Markdown blob) for the
rows the library builds: breaches, person-set blocks, write-back changes, drifted and previewed entities.
Money is written by `llmusage.money.usd`, shares as percentages, times in UTC to the minute."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import dagster as dg
import polars as pl

from llmusage.money import usd
from llmusage.reconcile.breaches import Breach, Change, PersonBlock, entity_label, period_label


def table(
    columns: Sequence[str], rows: Iterable[Sequence[str | int | float | bool | None]]
) -> dg.MetadataValue:
    """A table of text (and number) cells under `columns`, in the rows' order."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name) for name in columns])
    records = [dg.TableRecord(dict(zip(columns, row, strict=True))) for row in rows]
    return dg.MetadataValue.table(records=records, schema=schema)


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def moment(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M}"


BREACH_COLUMNS = (
    "entity", "kind", "period", "ledger", "budget", "over by", "utilization", "first_exceeded_at", "action",
)  # fmt: skip


def breach_table(breaches: Sequence[Breach]) -> dg.MetadataValue:
    return table(
        BREACH_COLUMNS,
        (
            (b.entity, b.kind, b.period, usd(b.ledger), usd(b.budget), usd(b.over_by), share(b.utilization),
             moment(b.first_exceeded_at), b.action)
            for b in breaches
        ),
    )  # fmt: skip


def person_block_table(blocks: Sequence[PersonBlock]) -> dg.MetadataValue:
    return table(("entity", "kind", "status"), ((b.entity, b.kind, b.status) for b in blocks))


def entity_table(entities: pl.DataFrame) -> dg.MetadataValue:
    """Reconciled entities as they come (status, spend against budget, drift where it is out of tolerance)."""
    return table(
        ("entity", "kind", "status", "period", "ledger", "recorded", "budget", "utilization", "drift",
         "drift cause"),
        (
            (entity_label(r["name"], r["entity_id"]), r["entity_type"], r["status"],
             period_label(r["budget_duration"], r["window_start"]), usd(r["ledger_spend"]),
             usd(r["recorded_spend"]), usd(r["max_budget"]), share(r["utilization"]),
             "" if r["drift_ok"] else usd(r["drift"]), r["drift_cause"] or "")
            for r in entities.iter_rows(named=True)
        ),
    )  # fmt: skip


def change_table(changes: Sequence[Change]) -> dg.MetadataValue:
    return table(
        ("entity", "kind", "change", "period"), ((c.entity, c.kind, c.change, c.period) for c in changes)
    )
