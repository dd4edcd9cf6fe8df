"""Spend logs, generated in vectorized chunks (numpy draws, polars columns) so that millions are cheap.

Skew comes from the key weights (a few heavy teams and keys), a daily rhythm (office hours, quiet
weekends, slow growth over the window) and per-key model preferences. Spend is priced from the
model table: prompt tokens times the input price plus completion tokens times the output price.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from llmusage.devtools.seed.org import Organization

# Relative traffic per UTC hour of day: quiet nights, a morning ramp, an afternoon peak.
HOUR_RHYTHM = np.array(
    [0.15, 0.1, 0.08, 0.08, 0.1, 0.15, 0.3, 0.55, 0.8, 0.95, 1.0, 1.0,
     0.9, 0.95, 1.0, 1.0, 0.95, 0.85, 0.6, 0.45, 0.35, 0.3, 0.25, 0.2]
)  # fmt: skip

LOG_COLUMNS = [
    "request_id",
    "api_key",
    "model",
    "api_provider",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "spend",
    "user",
    "team_id",
    "metadata",
    "created_at",
]


@dataclass(frozen=True)
class Window:
    """The traffic window [start, end), whole hours, in naive UTC."""

    start: datetime
    end: datetime

    def hours(self) -> int:
        return int((self.end - self.start).total_seconds() // 3600)


def _slot_probabilities(window: Window) -> np.ndarray:
    n = window.hours()
    starts = [window.start + timedelta(hours=h) for h in range(n)]
    weekday = np.array([0.4 if s.weekday() >= 5 else 1.0 for s in starts])
    hour = HOUR_RHYTHM[[s.hour for s in starts]]
    growth = np.linspace(0.75, 1.0, n)
    p = weekday * hour * growth
    return p / p.sum()


class LogGenerator:
    """Draws spend logs for an organization; `chunks()` yields polars frames of LOG_COLUMNS."""

    def __init__(self, org: Organization, window: Window, seed: int) -> None:
        self.org = org
        self.window = window
        self.seed = seed
        self.rng = np.random.default_rng([seed, 2])
        keys = org.keys
        weights = np.array([k.weight for k in keys])
        self.key_p = weights / weights.sum()
        self.slot_p = np.cumsum(_slot_probabilities(window))
        self.model_cum = np.cumsum(np.stack([k.model_probs for k in keys]), axis=1)
        self.start_us = _naive_us(window.start)
        self.end_us = _naive_us(window.end)
        self.expiry_us = np.array([_naive_us(k.expires) if k.expires else -1 for k in keys], dtype=np.int64)
        models = org.models
        self.in_price = np.array([m.input_cost for m in models])
        self.out_price = np.array([m.output_cost for m in models])
        self.is_embedding = np.array([m.kind == "embedding" for m in models])
        self.prefix = f"{seed & 0xFFFFFFFF:08x}"
        # Lookup frames joined onto the drawn indices.
        self.key_frame = pl.DataFrame(
            {
                "key_idx": np.arange(len(keys), dtype=np.int32),
                "api_key": [k.token for k in keys],
                "user": [k.user_id for k in keys],
                "team_id": [k.team_id for k in keys],
                "meta_head": [f'{{"tags": ["env:{k.env}", "app:{k.app}"' for k in keys],
            },
            schema_overrides={"user": pl.String, "team_id": pl.String},
        )
        self.model_frame = pl.DataFrame(
            {
                "model_idx": np.arange(len(models), dtype=np.int32),
                "model": [m.model_name for m in models],
                "api_provider": [m.provider for m in models],
                "id_kind": ["emb" if m.kind == "embedding" else "chatcmpl" for m in models],
            }
        )

    def chunks(self, total: int, chunk_size: int = 250_000) -> Iterator[pl.DataFrame]:
        done = 0
        while done < total:
            n = min(chunk_size, total - done)
            yield self._chunk(done, n)
            done += n

    def _chunk(self, offset: int, n: int) -> pl.DataFrame:
        rng = self.rng
        key_idx = np.searchsorted(np.cumsum(self.key_p), rng.random(n), side="right").clip(
            0, len(self.key_p) - 1
        )
        slot = np.searchsorted(self.slot_p, rng.random(n), side="right").clip(0, len(self.slot_p) - 1)
        ts = self.start_us + slot.astype(np.int64) * 3_600_000_000 + rng.integers(0, 3_600_000_000, n)
        # Keys that expired inside the window have traffic only before their expiry.
        exp = self.expiry_us[key_idx]
        expired = exp > 0
        if expired.any():
            ts[expired] = self.start_us + (
                rng.random(int(expired.sum())) * (exp[expired] - self.start_us)
            ).astype(np.int64)
        u = rng.random(n)
        model_idx = (u[:, None] > self.model_cum[key_idx]).sum(axis=1).clip(0, len(self.in_price) - 1)
        embedding = self.is_embedding[model_idx]
        prompt = np.where(
            embedding,
            rng.lognormal(np.log(250), 0.8, n),
            rng.lognormal(np.log(600), 1.0, n),
        )
        prompt = np.clip(prompt, 1, 120_000).astype(np.int32)
        completion = np.clip(rng.lognormal(np.log(180), 0.9, n), 1, 8_000).astype(np.int32)
        completion[embedding] = 0
        spend = prompt * self.in_price[model_idx] + completion * self.out_price[model_idx]
        latency = (120 + completion * 12 + rng.exponential(150, n)).astype(np.int32)
        end_user = rng.integers(0, 600, n)
        has_end_user = rng.random(n) < 0.6
        feature = rng.integers(0, 4, n)

        frame = pl.DataFrame(
            {
                "row": np.arange(offset, offset + n, dtype=np.int64),
                "key_idx": key_idx.astype(np.int32),
                "model_idx": model_idx.astype(np.int32),
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "spend": spend,
                "created_at": ts,
                "latency": latency,
                "end_user": end_user,
                "has_end_user": has_end_user,
                "feature": feature,
            }
        )
        extra_tag = (
            pl.when(pl.col("feature") == 0)
            .then(pl.lit(', "feature:search"'))
            .when(pl.col("feature") == 1)
            .then(pl.lit(', "feature:draft"'))
            .otherwise(pl.lit(""))
        )
        end_user_field = (
            pl.when(pl.col("has_end_user"))
            .then(pl.format(', "end_user": "cust-{}"', pl.col("end_user").cast(pl.String).str.zfill(4)))
            .otherwise(pl.lit(""))
        )
        return (
            frame.join(self.key_frame, on="key_idx", how="left")
            .join(self.model_frame, on="model_idx", how="left")
            .sort("row")
            .select(
                request_id=pl.format(
                    "{}-{}-{}",
                    pl.col("id_kind"),
                    pl.lit(self.prefix),
                    pl.col("row").cast(pl.String).str.zfill(10),
                ),
                api_key=pl.col("api_key"),
                model=pl.col("model"),
                api_provider=pl.col("api_provider"),
                total_tokens=pl.col("prompt_tokens") + pl.col("completion_tokens"),
                prompt_tokens=pl.col("prompt_tokens"),
                completion_tokens=pl.col("completion_tokens"),
                spend=pl.col("spend"),
                user=pl.col("user"),
                team_id=pl.col("team_id"),
                metadata=pl.concat_str(
                    pl.col("meta_head"),
                    extra_tag,
                    pl.lit("]"),
                    end_user_field,
                    pl.lit(', "status": "success", "latency_ms": '),
                    pl.col("latency").cast(pl.String),
                    pl.lit("}"),
                ),
                created_at=pl.from_epoch(pl.col("created_at"), time_unit="us"),
            )
        )


def _naive_us(moment: datetime) -> int:
    """Microseconds since the epoch of a naive UTC datetime."""
    return (moment - datetime(1970, 1, 1)) // timedelta(microseconds=1)
