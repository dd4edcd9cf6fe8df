"""The one way amounts of money are written for people: `usd(-7.84)` is `-$7.84`, `usd(None)` is `-`.

Every human-facing place (CLI tables and lines, Markdown summaries, HTML charts, Dagster metadata) writes
dollars through `usd`, so a negative drift reads the same everywhere (never `$-7.84`). Machine formats
(CSV, JSON, Parquet) keep their exact decimals and do not come through here.
"""

from __future__ import annotations

from decimal import Decimal

NONE = "-"
"""What `usd` writes for a missing amount (no budget, no value)."""


def usd(value: float | Decimal | None, places: int = 2) -> str:
    """`$1,234.50`, `-$7.84`, `-` for None (or NaN); `places` decimals (2 by default; 4 where cents hide a difference).
    A value that rounds to zero is written without a sign (`$0.00`, never `-$0.00`)."""
    if value is None or value != value:  # None, or NaN
        return NONE
    text = f"{abs(value):,.{places}f}"
    negative = value < 0 and any(c not in "0.," for c in text)
    return f"-${text}" if negative else f"${text}"
