"""Chargeback: finance's monthly statement, frozen once the month is closed."""

import dagster as dg

from llmusage.lake.layout import DIM_TABLES
from pipelines.partitions import monthly_partitions
from pipelines.resources import LakeResource


@dg.asset(
    partitions_def=monthly_partitions,
    group_name="chargeback",
    kinds={"parquet", "csv"},
    deps=["spend_logs", *[f"dim_{name}" for name in DIM_TABLES]],
)
def chargeback_statement(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The month's FOCUS-style statement by team (CSV, Parquet, summary.md) under exports/chargeback/;
    frozen once closed: a re-run leaves a closed month's bytes as they are."""
    from llmusage.reports.chargeback import chargeback

    month = context.partition_key[:7]
    statement = chargeback(lake.lake_dir, month, "team", exports_dir=lake.settings().exports_dir)
    summary = statement.directory / "summary.md"
    return dg.MaterializeResult(
        metadata={
            "month": month,
            "status": statement.status,
            "written": statement.written,
            "lines": statement.lines,
            "requests": statement.requests,
            "total_usd": dg.MetadataValue.float(float(statement.total)),
            "path": str(statement.directory),
            "summary": dg.MetadataValue.md(summary.read_text() if summary.exists() else ""),
        }
    )
