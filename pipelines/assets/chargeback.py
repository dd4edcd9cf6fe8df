"""Chargeback: finance's monthly statements, by team and by organization, frozen once the month is closed."""

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
    """The month's FOCUS 1.2 statements by team and by organization (CSV, Parquet, summary.md each) and
    the month's summary.md under exports/chargeback/; frozen once closed: a re-run leaves a closed month's
    bytes as they are. Totals are decimal strings (cents, and exact to 12 places)."""
    from llmusage.reports.monthly import monthly_statements

    run = monthly_statements(lake.lake_dir, context.partition_key[:7], lake.settings().exports_dir)
    team, org = run.statements["team"], run.statements["org"]
    return dg.MaterializeResult(
        metadata={
            "month": run.month,
            "status": team.status,
            "written": team.written,
            "lines": team.lines,
            "org_lines": org.lines,
            "requests": team.requests,
            "total_usd": run.total("team"),
            "total_exact_usd": run.total_exact("team"),
            "org_total_usd": run.total("org"),
            "path": str(team.directory),
            "org_path": str(org.directory),
            "summary_path": str(run.summary),
            "summary": dg.MetadataValue.md(
                run.summary.read_text() + "\n" + (team.directory / "summary.md").read_text()
            ),
        }
    )
