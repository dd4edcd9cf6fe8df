"""Machine formats of money, ratios and time: what CSV, JSON and Parquet carry, for programs to read.

People read tables (`output.py` shows dollars and percentages); programs read these, which never carry
binary float noise (`25.148619999999994`) or a time without its zone:

- **Money** (`report.MONEY_COLUMNS`) is a decimal string with exactly `MONEY_SCALE` places in CSV and JSON
  (`"25.1486200000"`), and `Decimal(38, MONEY_SCALE)` in Parquet. A float sum is taken at its shortest
  repr and rounded half-even to the scale: 10 places is a ten-billionth of a dollar, far below what any
  price per token resolves, so nothing a report adds up is lost.
- **Ratios** (shares, utilizations, other floats) are rounded to `RATIO_DIGITS` decimal places.
- **Instants** are ISO 8601 in UTC with the `Z` designator (`2026-11-15T11:46:00Z`; fractions only when
  there are any); a naive datetime in a report is UTC by the reports' contract. **Days** are `YYYY-MM-DD`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl

from llmusage.reports.report import MONEY_COLUMNS

MONEY_SCALE = 10
RATIO_DIGITS = 6
MONEY_TYPE = pl.Decimal(38, MONEY_SCALE)
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


def money(value: float | Decimal | int | None, scale: int = MONEY_SCALE) -> str | None:
    """`25.148619999999994` -> `"25.1486200000"`: a fixed-scale decimal string (None stays None)."""
    if value is None:
        return None
    exact = (
        value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    )
    return f"{exact.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_EVEN):f}"


def instant(value: datetime | None) -> str | None:
    """An ISO 8601 UTC instant with `Z`; naive values are UTC."""
    if value is None:
        return None
    utc = value.astimezone(UTC) if value.tzinfo else value
    text = utc.replace(tzinfo=None).isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text + "Z"


def _is_money(column: str, dtype: pl.DataType) -> bool:
    return column in MONEY_COLUMNS and (dtype.is_float() or dtype.is_integer() or dtype.is_decimal())


def _decimal(column: str) -> pl.Expr:
    """A money column as Decimal(38, MONEY_SCALE), through the shortest repr of each float."""
    return (
        pl.col(column).map_elements(lambda v: money(v), return_dtype=pl.String).cast(MONEY_TYPE).alias(column)
    )


def machine_frame(frame: pl.DataFrame, strings: bool = True) -> pl.DataFrame:
    """The frame as programs get it: money as fixed-scale decimal strings (`strings`, for CSV and JSON)
    or Decimal (Parquet), ratios rounded, instants as ISO 8601 UTC strings (CSV and JSON only)."""
    exprs = []
    for column, dtype in frame.schema.items():
        if _is_money(column, dtype):
            exprs.append(_decimal(column).cast(pl.String) if strings else _decimal(column))
        elif dtype.is_float():
            exprs.append(pl.col(column).round(RATIO_DIGITS))
        elif strings and isinstance(dtype, pl.Datetime):
            exprs.append(pl.col(column).map_elements(instant, return_dtype=pl.String))
    return frame.with_columns(exprs) if exprs else frame


def machine_value(column: str, value: object) -> object:
    """One value (a totals cell) as `machine_frame` would write it in JSON."""
    if value is None or isinstance(value, bool):
        return value
    if column in MONEY_COLUMNS and isinstance(value, int | float | Decimal):
        return money(value)
    if isinstance(value, float):
        return round(value, RATIO_DIGITS)
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def machine_totals(totals: Mapping[str, object] | None) -> dict[str, object] | None:
    return None if totals is None else {c: machine_value(c, v) for c, v in totals.items()}
