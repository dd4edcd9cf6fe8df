"""List prices per token for the chargeback's FOCUS lines: from the model table where it has them, else
derived from the logs.

- **Model table** (`x_ListPriceSource` = `model table`): `model_info.input_cost_per_token` and
  `output_cost_per_token` of the `LiteLLM_ProxyModelTable` row whose `model_name` is the log's model (or
  its model group). The llmusage flavour always has them: its proxy prices every request from them.
- **Derived from logs** (`derived from logs`): a LiteLLM database usually has no prices (LiteLLM prices
  from its bundled cost map); a model's input and output prices are then the least-squares solution of
  `spend = input * prompt_tokens + output * completion_tokens` over the month's billed logs of that model
  (neither failed nor cache hits, spend above 0; `sql/reports/model_price_fit.sql`). With prices that are
  constant over the month, as LiteLLM's are, this gives them back exactly; a model whose logs never have
  completion tokens (embeddings) gets output price 0. Negative solutions are clipped to 0 and the other
  price refitted alone.
- **None** (`none`): a model without either (no billed log) has price 0.

Prices are kept to `PRICE_SCALE` (12) decimal places, a picodollar per token, so that
`ListUnitPrice x PricingQuantity = ListCost` holds exactly in DECIMAL(38,12).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import duckdb
import polars as pl

from llmusage.lake.layout import dim_path
from llmusage.sqlfiles import load

PRICE_SCALE = 12
_QUANTUM = Decimal(1).scaleb(-PRICE_SCALE)
ZERO = Decimal(0).quantize(_QUANTUM)


@dataclass(frozen=True)
class Price:
    input: Decimal  # USD per prompt token
    output: Decimal  # USD per completion token
    source: str  # "model table" | "derived from logs" | "none"


def per_token(value: float | str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    amount = Decimal(repr(value) if isinstance(value, float) else str(value))
    return max(amount, Decimal(0)).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def table_prices(lake_dir: Path) -> dict[str, Price]:
    """Prices by model name from the models snapshot (the first deployment with prices of each name)."""
    path = dim_path(lake_dir, "models")
    if not path.exists():
        return {}
    models = pl.read_parquet(path)
    if "model_info" not in models.columns or "model_name" not in models.columns:
        return {}
    rows = (
        models.select(
            "model_name",
            pl.col("model_info").cast(pl.String).str.json_path_match("$.input_cost_per_token").alias("i"),
            pl.col("model_info").cast(pl.String).str.json_path_match("$.output_cost_per_token").alias("o"),
        )
        .filter(pl.col("i").is_not_null() | pl.col("o").is_not_null())
        .sort("model_name", "i", nulls_last=True)
        .unique("model_name", keep="first", maintain_order=True)
    )
    return {
        name: Price(per_token(i) or ZERO, per_token(o) or ZERO, "model table")
        for name, i, o in rows.iter_rows()
    }


def _solve(pp: float, pc: float, cc: float, ps: float, cs: float) -> tuple[float, float]:
    """Least squares of spend ~ a * prompt + b * completion from the normal equations, a and b >= 0."""
    det = pp * cc - pc * pc
    if det > 1e-9 * max(pp * cc, 1.0):
        a, b = (ps * cc - cs * pc) / det, (cs * pp - ps * pc) / det
        if a >= 0 and b >= 0:
            return a, b
    only_a = ps / pp if pp > 0 else 0.0
    only_b = cs / cc if cc > 0 else 0.0
    if pp > 0 and (cc == 0 or only_a * ps >= only_b * cs):  # the one-price fit explaining more
        return max(only_a, 0.0), 0.0
    return 0.0, max(only_b, 0.0)


def fitted_prices(duck: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, Price]:
    """Prices derived from the logs of [start, end), by model (see the module docstring)."""
    sums = duck.sql(load("reports/model_price_fit.sql"), params={"start": start, "end": end}).fetchall()
    out = {}
    for model, _logs, pp, pc, cc, ps, cs in sums:
        a, b = _solve(pp or 0.0, pc or 0.0, cc or 0.0, ps or 0.0, cs or 0.0)
        out[model] = Price(per_token(a) or ZERO, per_token(b) or ZERO, "derived from logs")
    return out


def price_for(
    model: str, model_group: str | None, table: dict[str, Price], fitted: dict[str, Price]
) -> Price:
    """The list price of a line's model: the model table's, else the logs', else none (0)."""
    for name in (model, model_group):
        if name in table:
            return table[name]
    return fitted.get(model) or Price(ZERO, ZERO, "none")
