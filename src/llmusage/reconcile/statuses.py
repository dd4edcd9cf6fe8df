"""Statuses and drift causes: every entity's recorded side (its counter, budget and period) joined with its
ledger, as `compute.reconcile` assembles them.

Status: `exceeded` at or above 100% of `max_budget` (above it, for the kinds LiteLLM compares strictly:
`LITELLM_STRICT`), `warning` at or above the threshold (80% by default) or `soft_budget`, else `ok`; an
entity without a budget is `ok`. Spend whose key, user or team no longer exists is `orphaned`. Sums are
compared with a tolerance (TOLERANCE relative, ABS_TOLERANCE absolute) so float rounding is never drift nor
an overrun. Drift has a cause (`drift_cause`): `retention`, `reset_lag` or `unexplained` (see compute.py);
where a cause explains it, the budget is judged on the counter, as LiteLLM judges it.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from llmusage.entities import BLOCK_MARKER, Kind
from llmusage.reconcile.snapshot import Snapshot
from llmusage.sources.detect import Flavour

TOLERANCE = 1e-9
ABS_TOLERANCE = 1e-6  # USD: a millionth of a dollar
LITELLM_STRICT = ("team", "end_user", "tag")
"""Kinds LiteLLM refuses only once spend is over the budget (`>`); it refuses the others at it (`>=`):
auth_checks.common_checks and its end-user and tag checks. The llmusage proxy refuses all at `>=`."""

Windows = dict[tuple[str, str], tuple[str, datetime]]  # (kind, id) -> (budget_duration, window start)


def entity_rows(snapshot: Snapshot) -> list[tuple[str, dict]]:
    """(kind, row) of every entity reconciled: the four kinds, then LiteLLM's budget-only ones."""
    rows = [(kind.value, row) for kind in Kind for row in snapshot.entities[kind]]
    return rows + [(label, row) for label, found in snapshot.budget_only.items() for row in found]


def strict_kinds(snapshot: Snapshot) -> list[str]:
    return list(LITELLM_STRICT) if snapshot.source.flavour is Flavour.LITELLM else []


_RECORDED = {  # the recorded side of every entity, as combine builds it
    "entity_type": pl.String,
    "entity_id": pl.String,
    "name": pl.String,
    "recorded_spend": pl.Float64,
    "max_budget": pl.Float64,
    "soft_budget": pl.Float64,
    "budget_duration": pl.String,
    "window_start": pl.Datetime("us"),
    "blocked": pl.Boolean,
    "flagged": pl.Boolean,
    "exists": pl.Boolean,
    "history_complete": pl.Boolean,
}


def history_complete(row: dict, window: tuple[str, datetime] | None, history_start: datetime | None) -> bool:
    """Whether every log of the entity's current period can still be read: the period (or, for a lifetime
    budget, the entity) began at or after the oldest log kept anywhere (lake or database). When not, spend
    that retention deleted explains a recorded counter above the ledger: that is not drift."""
    if history_start is None:
        return True
    began = window[1] if window else row.get("created_at")
    return began is not None and began >= history_start


def combine(
    snapshot: Snapshot,
    ledger: pl.DataFrame,
    threshold: float,
    windows: Windows,
    history_start: datetime | None = None,
) -> pl.DataFrame:
    """Entity rows (recorded side) joined with the ledger; orphans from the ledger side; statuses."""
    records: list[dict] = []
    for label, row in entity_rows(snapshot):
        window = windows.get((label, row["entity_id"]))
        metadata = row["metadata"] or {}
        records.append(
            {
                "entity_type": label,
                "entity_id": row["entity_id"],
                "name": row["name"],
                "recorded_spend": float(row["recorded_spend"] or 0.0),
                "max_budget": row["max_budget"],
                "soft_budget": row.get("soft_budget"),
                "budget_duration": window[0] if window else None,
                "window_start": window[1] if window else None,
                "blocked": bool(row["blocked"]),
                "flagged": BLOCK_MARKER in metadata,
                "exists": True,
                "history_complete": history_complete(row, window, history_start),
            }
        )
    recorded = pl.DataFrame(records, schema=_RECORDED)
    strict = strict_kinds(snapshot)
    if "reset_lag_spend" not in ledger.columns:  # only LiteLLM's counters lag behind a reset
        ledger = ledger.with_columns(reset_lag_spend=pl.lit(None, dtype=pl.Float64))
    joined = recorded.join(ledger, on=["entity_type", "entity_id"], how="full", coalesce=True)
    ledger_spend = pl.col("ledger_spend").fill_null(0.0)
    budget = pl.col("max_budget")
    slack = ABS_TOLERANCE + TOLERANCE * pl.max_horizontal(budget.abs(), pl.lit(1.0))
    # warning levels are llmusage's own marks, not a gateway's refusal: only float rounding (relative) is
    # forgiven there, so spend under 80% by less than a micro-dollar stays `ok` (no gateway rounds it up)
    rounding = TOLERANCE * pl.max_horizontal(budget.abs(), pl.lit(1.0))
    drift_slack = ABS_TOLERANCE + TOLERANCE * pl.max_horizontal(
        pl.col("recorded_spend").abs(), pl.col("ledger_spend").abs()
    )
    ledger_or_kept = (
        pl.when(pl.col("explained")).then(pl.col("recorded_spend")).otherwise(pl.col("ledger_spend"))
    )
    entities = (
        joined.with_columns(
            ledger_spend=ledger_spend,
            requests=pl.col("requests").fill_null(0),
            top_models=pl.col("top_models").fill_null([]),
            exists=pl.col("exists").fill_null(False),
        )
        .with_columns(
            name=pl.col("name").fill_null(pl.col("entity_id")),
            drift=pl.col("recorded_spend") - pl.col("ledger_spend"),
            blocked=pl.col("blocked").fill_null(False),
            flagged=pl.col("flagged").fill_null(False),
        )
        .with_columns(within=pl.col("drift").is_null() | (pl.col("drift").abs() <= drift_slack))
        .with_columns(
            drift_cause=pl.when(pl.col("within"))
            .then(pl.lit(None, dtype=pl.String))
            .when((pl.col("drift") > 0) & ~pl.col("history_complete").fill_null(True))
            .then(pl.lit("retention"))
            .when(
                (pl.col("drift") < 0)
                & (-pl.col("drift") <= pl.col("reset_lag_spend").fill_null(0.0) + drift_slack)
            )
            .then(pl.lit("reset_lag"))
            .otherwise(pl.lit("unexplained")),
        )
        .with_columns(
            drift_ok=pl.col("within") | pl.col("drift_cause").is_in(["retention", "reset_lag"]),
            # spend retention deleted is in the counter, not in the ledger, and spend the reset job's lag
            # zeroed is in neither: LiteLLM decides on the counter, so the budget is judged on it
            explained=pl.col("drift_cause").is_in(["retention", "reset_lag"]).fill_null(False),
        )
        .with_columns(spent=ledger_or_kept)
        .with_columns(
            utilization=pl.when(budget > 0).then(pl.col("spent") / budget),
            status=pl.when(~pl.col("exists"))
            .then(pl.lit("orphaned"))
            .when(budget.is_null())
            .then(pl.lit("ok"))
            .when(
                pl.when(pl.col("entity_type").is_in(strict))
                .then(pl.col("spent") > budget + slack)
                .otherwise(pl.col("spent") >= budget - slack)
            )
            .then(pl.lit("exceeded"))
            .when(pl.col("spent") >= budget * threshold - rounding)
            .then(pl.lit("warning"))
            .when(pl.col("soft_budget").is_not_null() & (pl.col("spent") >= pl.col("soft_budget") - rounding))
            .then(pl.lit("warning"))
            .otherwise(pl.lit("ok")),
        )
    )
    return entities.drop("exists", "within", "history_complete", "explained", "spent", "reset_lag_spend")
