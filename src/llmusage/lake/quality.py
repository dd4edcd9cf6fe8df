"""Data quality of spend log partitions: a Great Expectations 1.x suite over one or more lake days.

Great Expectations is slow to import, so it is imported inside `validate_spend_logs` only.
The checks that need other tables or arithmetic across columns are precomputed as columns (polars),
then expected by GX like any column:
- `request_id` present and unique (the key of a spend log in both flavours); token counts non-negative;
  `total_tokens = prompt + completion`;
- `spend >= 0`, and within PRICE_TOLERANCE of what priced it: a log with `metadata.cost_breakdown` (the
  llmusage proxy's, `llmusage.pricing`) against its breakdown's total, which holds the prices in force when
  it was written (cached, reasoning and per-request prices and price changes included); any other log
  against its tokens times the model's top-level prices where the model table prices the model
  (`model_info`; on a LiteLLM database prices usually come from LiteLLM's cost map, so most models have
  none there and only their sign is checked);
- on the llmusage flavour, `model` known to the model table (on LiteLLM's, `model_name` is neither unique
  nor the log's `model`, so it is not a reference); prices are joined on one row per model name, so
  several deployments of one name never duplicate a log;
- `api_key` known to the key table or the master key's principal (at least KEY_MOSTLY of the rows: a
  deleted key's old logs are reconciliation's `orphaned` spend, not bad data);
- `event_time` inside the partitions validated.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from llmusage.errors import LlmusageError
from llmusage.lake.dims import read_flavour
from llmusage.lake.layout import dim_path, partition_files
from llmusage.sources.detect import Flavour

PRICE_TOLERANCE = 1e-6  # relative, plus a micro-dollar absolute
KEY_MOSTLY = 0.99
COLUMNS = [
    "request_id",
    "api_key",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "spend",
    "event_time",
    "metadata",
]
MASTER_KEY_PRINCIPAL = "litellm_proxy_master_key"


@dataclass
class QualityResult:
    success: bool
    rows: int
    evaluated: int
    failures: list[dict] = field(default_factory=list)  # expectation, column, unexpected_count, sample


def load_days(lake_dir: Path, first: date, last: date) -> pl.DataFrame:
    """The spend log rows of the lake days first..last (inclusive), the columns the suite reads."""
    files = [
        str(p)
        for n in range((last - first).days + 1)
        for p in partition_files(lake_dir, first + timedelta(days=n))
    ]
    if not files:
        return pl.DataFrame(schema={c: pl.String for c in COLUMNS})
    return pl.scan_parquet(files).select(COLUMNS).collect()


def _prepare(logs: pl.DataFrame, lake_dir: Path, first: date, last: date) -> pl.DataFrame:
    try:
        models = pl.read_parquet(dim_path(lake_dir, "models"), columns=["model_name", "model_info"])
        keys = pl.read_parquet(dim_path(lake_dir, "keys"), columns=["token"])
    except FileNotFoundError as exc:
        raise LlmusageError(
            f"the lake has no dimension snapshots ({exc.filename}); run `llmusage extract`"
        ) from exc
    prices = (
        models.select(
            model=pl.col("model_name"),
            input_cost=pl.col("model_info").str.json_path_match("$.input_cost_per_token").cast(pl.Float64),
            output_cost=pl.col("model_info").str.json_path_match("$.output_cost_per_token").cast(pl.Float64),
        )
        .sort("model", "input_cost", nulls_last=True)
        .unique(subset="model", keep="first", maintain_order=True)
    )
    litellm = read_flavour(lake_dir) == Flavour.LITELLM.value
    start = datetime.combine(first, datetime.min.time())
    end = datetime.combine(last + timedelta(days=1), datetime.min.time())
    created = pl.col("event_time").cast(pl.Datetime("us")) if logs.height else pl.col("event_time")
    by_tokens = pl.col("prompt_tokens") * pl.col("input_cost") + pl.col("completion_tokens") * pl.col(
        "output_cost"
    )
    metadata = pl.col("metadata").cast(pl.String)
    breakdown_total = metadata.str.json_path_match("$.cost_breakdown.total").cast(pl.Float64)
    expected = pl.coalesce(breakdown_total, by_tokens)
    return (
        logs.with_columns(event_time=created.dt.replace_time_zone(None) if logs.height else created)
        .join(prices, on="model", how="left")
        .with_columns(
            token_gap=pl.col("total_tokens") - pl.col("prompt_tokens") - pl.col("completion_tokens"),
            price_error=pl.when(expected.is_not_null())
            .then((pl.col("spend") - expected).abs() - (1e-6 + PRICE_TOLERANCE * expected.abs()))
            .otherwise(pl.lit(0.0)),
            model_known=pl.col("input_cost").is_not_null() | pl.lit(litellm),
            key_known=pl.col("api_key").is_in(keys["token"].implode())
            | (pl.col("api_key") == MASTER_KEY_PRINCIPAL),
            in_partition=(pl.col("event_time") >= start) & (pl.col("event_time") < end),
        )
    )


def validate_spend_logs(lake_dir: Path, first: date, last: date) -> QualityResult:
    """Run the suite over the lake days first..last."""
    logs = load_days(lake_dir, first, last)
    if logs.height == 0:
        return QualityResult(success=True, rows=0, evaluated=0)
    frame = _prepare(logs, lake_dir, first, last).to_pandas()

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas("lake")
        .add_dataframe_asset("spend_logs")
        .add_batch_definition_whole_dataframe("days")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(
        name="spend_logs",
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="request_id"),
            gxe.ExpectColumnValuesToBeUnique(column="request_id"),
            gxe.ExpectColumnValuesToBeBetween(column="prompt_tokens", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="completion_tokens", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="total_tokens", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="token_gap", min_value=0, max_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="spend", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="price_error", max_value=0),
            gxe.ExpectColumnValuesToBeInSet(column="model_known", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="key_known", value_set=[True], mostly=KEY_MOSTLY),
            gxe.ExpectColumnValuesToBeInSet(column="in_partition", value_set=[True]),
        ],
    )
    result = batch.validate(suite)
    failures = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column"),
            "unexpected_count": r.result.get("unexpected_count"),
            "sample": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
        }
        for r in result.results
        if not r.success
    ]
    return QualityResult(
        success=bool(result.success), rows=logs.height, evaluated=len(result.results), failures=failures
    )
