"""What LiteLLM's writers leave besides the logs: spend counters, the daily tables, and what retention removes.

- Counters (`DBSpendUpdateWriter._commit_spend_updates_to_db`, and the ledger projection
  `litellm/accounting/projection.py` `_entity_contributions` that 1.110 uses by default): every charged
  request adds its spend to its key (`spend` and `total_spend`), its user (team keys included), its team, its
  organization, its end user, each of its tags and its team membership (`spend`, `total_spend`), on rows that
  exist. The reset job zeroes `spend` (never `total_spend`); so a counter is the spend written since the
  entity's last reset.
- Daily tables (`litellm/proxy/db/daily_spend_bulk_upsert.py`, `daily_spend_entity_ids`, `build_bulk_upsert`;
  `projection._daily_rows`, `_daily_counters`): one row per (entity, UTC date of `startTime`, api_key, model,
  custom_llm_provider, mcp_namespaced_tool_name, endpoint), every key column normalised to `''`; the user
  and team tables take `''` ids too, the organization table the charged org only, the end-user table
  non-empty ids only, the tag table each distinct tag of a request with the request's full spend. Counters:
  spend, tokens, cache read tokens, `api_requests`, `successful_requests`/`failed_requests`,
  `total_response_time_ms`/`timed_requests` (successes only). Written at request time, whether or not the
  spend log itself is kept (`update_database`: `disable_error_logs` drops failed requests' logs only).
- Retention (`spend_log_cleanup.py` `_delete_old_logs`): deletes logs whose `startTime` is older than the
  retention period; counters and daily tables keep that spend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from llmusage.devtools.seed.litellm.rows import uuids

ENDPOINTS = {"acompletion": "/chat/completions", "aembedding": "/embeddings", "aresponses": "/responses"}
DAILY_TABLES = {
    "LiteLLM_DailyUserSpend": ("user_id", "user"),
    "LiteLLM_DailyTeamSpend": ("team_id", "team_id"),
    "LiteLLM_DailyOrganizationSpend": ("organization_id", "organization_id"),
    "LiteLLM_DailyEndUserSpend": ("end_user_id", "end_user"),
    "LiteLLM_DailyTagSpend": ("tag", "_tags"),
}
COUNTER_CAUSES = {
    "retention": "spend of logs in the period (or lifetime) that retention deleted; the counter kept it",
    "reset_lag": "spend of logs that started in the period but were written before the reset job zeroed the "
    "counter (it runs every ~10 minutes after the boundary); negative: the counter lost it",
    "in_flight_at_reset": "spend of requests that started before the period and were written after the reset",
}
DAILY_CAUSES = {
    "retention": "logs deleted by retention after their spend and request went into the daily row",
    "tag_fan_out": "a request with N tags adds its full spend and one request to each of N tag rows "
    "(BerriAI/litellm#21894)",
    "unlogged_failures": "failed requests while disable_error_logs was on: counted as failed requests in the "
    "daily tables, no spend log",
}


def attributed(logs: pl.DataFrame) -> pl.DataFrame:
    """One row per (log, entity it is charged to): kind, id, spend, start, write, surviving."""
    cols = ["spend", "startTime", "_write", "_surviving"]
    parts = [
        logs.select(pl.lit("key").alias("kind"), pl.col("api_key").alias("id"), *cols),
        logs.select(pl.lit("user").alias("kind"), pl.col("user").alias("id"), *cols),
        logs.select(pl.lit("team").alias("kind"), pl.col("team_id").alias("id"), *cols),
        logs.select(pl.lit("organization").alias("kind"), pl.col("organization_id").alias("id"), *cols),
        logs.select(pl.lit("end_user").alias("kind"), pl.col("end_user").alias("id"), *cols),
        logs.select(pl.lit("tag").alias("kind"), pl.col("_tags").alias("id"), *cols).explode("id"),
        logs.select(
            pl.lit("team_member").alias("kind"),
            pl.concat_str("user", pl.lit(":"), "team_id").alias("id"),
            *cols,
        ),
    ]
    return pl.concat(parts).filter(pl.col("id").is_not_null() & (pl.col("id") != "") & (pl.col("id") != ":"))


@dataclass
class Sums:
    """Per entity: its counter, its lifetime spend, the ledger of its current period, and the gap causes."""

    recorded: float = 0.0
    lifetime: float = 0.0
    ledger: float = 0.0
    gaps: dict[str, float] = field(default_factory=dict)


def entity_sums(
    attributions: pl.DataFrame, bounds: pl.DataFrame, now: datetime
) -> dict[tuple[str, str], Sums]:
    """`bounds` has kind, id, last_reset, period_start (nulls for lifetime budgets)."""
    far = datetime(1900, 1, 1)
    joined = attributions.join(bounds, on=["kind", "id"], how="inner").with_columns(
        pl.col("last_reset").fill_null(far), pl.col("period_start").fill_null(far)
    )
    written = pl.col("_write") >= pl.col("last_reset")
    in_period = (pl.col("startTime") >= pl.col("period_start")) & (pl.col("startTime") <= now)
    alive = pl.col("_surviving")
    spend = pl.col("spend")
    agg = joined.group_by("kind", "id").agg(
        recorded=spend.filter(written).sum(),
        lifetime=spend.sum(),
        ledger=spend.filter(in_period & alive).sum(),
        in_flight_at_reset=spend.filter(written & ~in_period).sum(),
        retention=spend.filter(written & in_period & ~alive).sum(),
        reset_lag=-spend.filter(in_period & alive & ~written).sum(),
    )
    out: dict[tuple[str, str], Sums] = {}
    for r in agg.iter_rows(named=True):
        gaps = {k: float(r[k]) for k in ("retention", "reset_lag", "in_flight_at_reset") if r[k]}
        out[(r["kind"], r["id"])] = Sums(float(r["recorded"]), float(r["lifetime"]), float(r["ledger"]), gaps)
    return out


def daily_tables(logs: pl.DataFrame, rng: np.random.Generator) -> dict[str, pl.DataFrame]:
    """The five daily tables as the daily writer leaves them after every request in `logs` (deleted and
    unlogged ones included)."""
    success = pl.col("status") == "success"
    base = logs.sort("_write").select(
        "user", "team_id", "organization_id", "end_user", "_tags", "request_id", "model_group", "_write",
        date=pl.col("startTime").dt.strftime("%Y-%m-%d"),
        api_key="api_key",
        model=pl.col("model").fill_null(""),
        custom_llm_provider=pl.col("custom_llm_provider").fill_null(""),
        mcp_namespaced_tool_name=pl.lit(""),
        endpoint=pl.col("call_type").replace_strict(ENDPOINTS, default=""),
        prompt_tokens=pl.col("prompt_tokens").cast(pl.Int64),
        completion_tokens=pl.col("completion_tokens").cast(pl.Int64),
        cache_read_input_tokens="_cached",
        spend="spend",
        api_requests=pl.lit(1, pl.Int64),
        successful_requests=success.cast(pl.Int64),
        failed_requests=(~success).cast(pl.Int64),
        total_response_time_ms=pl.when(success).then(pl.col("request_duration_ms")).otherwise(0).cast(pl.Int64),
        timed_requests=success.cast(pl.Int64),
    )  # fmt: skip
    key = ["date", "api_key", "model", "custom_llm_provider", "mcp_namespaced_tool_name", "endpoint"]
    sums = ["prompt_tokens", "completion_tokens", "cache_read_input_tokens", "spend", "api_requests",
            "successful_requests", "failed_requests", "total_response_time_ms", "timed_requests"]  # fmt: skip
    out: dict[str, pl.DataFrame] = {}
    for table, (column, source) in DAILY_TABLES.items():
        frame = (
            base.rename({source: column})
            if source != "_tags"
            else base.explode("_tags").rename({"_tags": column})
        )
        if table in ("LiteLLM_DailyOrganizationSpend", "LiteLLM_DailyEndUserSpend", "LiteLLM_DailyTagSpend"):
            frame = frame.filter(pl.col(column).is_not_null() & (pl.col(column) != ""))
        extra = [pl.col("request_id").last()] if table == "LiteLLM_DailyTagSpend" else []
        rows = (
            frame.group_by([column, *key], maintain_order=True)
            .agg(
                pl.col("model_group").first(),
                *[pl.col(c).sum() for c in sums],
                *extra,
                created_at=pl.col("_write").min(),
                updated_at=pl.col("_write").max(),
            )
            .sort("created_at", column)
        )
        out[table] = rows.with_columns(id=uuids(rng, rows.height))
    return out


@dataclass
class DailyGap:
    """A daily table's totals against the surviving logs charged the same way, and why they differ."""

    table: str
    daily_spend: float
    logs_spend: float
    daily_requests: int
    logs_requests: int
    spend_causes: dict[str, float]
    request_causes: dict[str, int]


def daily_gaps(logs: pl.DataFrame, daily: dict[str, pl.DataFrame]) -> list[DailyGap]:
    """Reconcile each daily table with the logs; every difference is named:

    - `retention`: spend and requests of logs deleted by retention after the daily row was written;
    - `tag_fan_out`: a request with N tags adds its full spend (and one request) to each of N tag rows
      (`daily_spend_entity_ids`; the dashboards' inflated tag totals, BerriAI/litellm#21894);
    - `unlogged_failures`: failed requests while `disable_error_logs` was on: counted as failed requests,
      no spend log (`update_database` `keep_spend_logs`).
    """
    gaps = []
    for table, (_, source) in DAILY_TABLES.items():
        rows = logs if source != "_tags" else logs.with_columns(n_tags=pl.col("_tags").list.len())
        if source == "_tags":
            rows = rows.filter(pl.col("n_tags") > 0)
        elif table in ("LiteLLM_DailyOrganizationSpend", "LiteLLM_DailyEndUserSpend"):
            rows = rows.filter(pl.col(source) != "")
        alive = rows.filter(pl.col("_surviving"))
        deleted = rows.filter(~pl.col("_surviving") & pl.col("_logged"))
        unlogged = rows.filter(~pl.col("_logged"))
        spend_causes = {"retention": float(deleted["spend"].sum())}
        request_causes = {"retention": deleted.height, "unlogged_failures": unlogged.height}
        if source == "_tags":
            fan = rows.with_columns(extra=pl.col("n_tags") - 1)
            spend_causes["tag_fan_out"] = float((fan["spend"] * fan["extra"]).sum())
            request_causes["tag_fan_out"] = int(fan["extra"].sum())
        gaps.append(
            DailyGap(
                table=table,
                daily_spend=float(daily[table]["spend"].sum()),
                logs_spend=float(alive["spend"].sum()),
                daily_requests=int(daily[table]["api_requests"].sum()),
                logs_requests=alive.height,
                spend_causes={k: v for k, v in spend_causes.items() if v},
                request_causes={k: v for k, v in request_causes.items() if v},
            )
        )
    return gaps
