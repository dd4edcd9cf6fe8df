"""Bulk traffic of the background org (initech), drawn in one vectorized pass so that a million rows are cheap.

Office-hours rhythm, skewed keys, per-key model preferences, a few failures (no cost) and response-cache
hits (no cost, usage replayed), end users on the web team's keys, an occasional request tag on top of the
key's own. Its budgets are set afterwards from what it spent, so no request here was ever refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from llmusage.devtools.seed.litellm.cast import DEPLOYMENTS, Cast
from llmusage.devtools.seed.litellm.roster import background_keys
from llmusage.devtools.seed.litellm.traffic import CORE_SCHEMA

HOUR_RHYTHM = np.array(
    [0.15, 0.1, 0.08, 0.08, 0.1, 0.15, 0.3, 0.55, 0.8, 0.95, 1.0, 1.0,
     0.9, 0.95, 1.0, 1.0, 0.95, 0.85, 0.6, 0.45, 0.35, 0.3, 0.25, 0.2]
)  # fmt: skip
_EPOCH = datetime(1970, 1, 1)


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _starts(since: datetime, until: datetime, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` request start instants (µs since the epoch) in [since, until), with the office-hours rhythm."""
    hours = max(1, int((until - since).total_seconds() // 3600))
    hour_of = np.array([(since + timedelta(hours=h)).hour for h in range(hours)])
    weekend = np.array([(since + timedelta(hours=h)).weekday() >= 5 for h in range(hours)])
    p = HOUR_RHYTHM[hour_of] * np.where(weekend, 0.35, 1.0)
    slot = rng.choice(hours, n, p=p / p.sum())
    span_us = min(3_600_000_000, int((until - since).total_seconds() * 1e6))
    return _us(since) + slot * 3_600_000_000 + rng.integers(0, span_us, n)


def generate(cast: Cast, recent: int, older: int, cutoff: datetime, rng: np.random.Generator) -> pl.DataFrame:
    """`recent` requests since the retention `cutoff` and `older` ones before it (deleted by retention)."""
    n = recent + older
    if n <= 0:
        return pl.DataFrame(schema=CORE_SCHEMA)
    keys = np.array(background_keys(cast))
    weights = rng.lognormal(0, 1, len(keys))
    key_ix = keys[rng.choice(len(keys), n, p=weights / weights.sum())]
    until = cast.now - timedelta(minutes=10)
    start_us = np.concatenate([_starts(cast.start, cutoff, older, rng), _starts(cutoff, until, recent, rng)])
    start_us = np.minimum(start_us, _us(until))

    prefs = rng.dirichlet(np.full(len(DEPLOYMENTS), 0.6), len(cast.keys))
    cum = np.cumsum(prefs[key_ix], axis=1)
    dep_ix = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, len(DEPLOYMENTS) - 1)
    embedding = np.array([d.kind == "embedding" for d in DEPLOYMENTS])[dep_ix]
    provider = np.array([d.provider for d in DEPLOYMENTS])[dep_ix]
    in_cost = np.array([d.input_cost for d in DEPLOYMENTS])[dep_ix]
    out_cost = np.array([d.output_cost for d in DEPLOYMENTS])[dep_ix]

    prompt = np.clip(rng.lognormal(np.log(2500), 0.9, n), 5, 150_000).astype(np.int64)
    completion = np.where(embedding, 0, np.clip(rng.lognormal(np.log(350), 0.8, n), 1, 16_000)).astype(
        np.int64
    )
    cached = np.where(
        (rng.random(n) < 0.2) & ~embedding, (prompt * rng.uniform(0.1, 0.8, n)).astype(np.int64), 0
    )
    roll = rng.random(n)
    failure = roll < 0.025
    cache_hit = (roll > 0.97) & ~embedding
    spend = np.where(failure | cache_hit, 0.0, prompt * in_cost + completion * out_cost)
    completion = np.where(failure, 0, completion)
    duration = np.where(embedding, rng.uniform(30, 300, n), 400 + completion * rng.uniform(8, 25, n))
    duration = np.where(failure, rng.uniform(200, 30_000, n), duration)
    duration = np.where(cache_hit, rng.uniform(4, 40, n), duration).clip(1, 120_000).astype(np.int32)
    ttft = np.minimum(duration, rng.uniform(150, 1500, n)).astype(np.int32)
    write_us = start_us + duration.astype(np.int64) * 1000 + rng.integers(300_000, 9_000_000, n)

    ct_roll = rng.random(n)
    call_type = np.where(
        embedding,
        "aembedding",
        np.where(
            np.isin(provider, ["anthropic", "bedrock"]) & (ct_roll < 0.3),
            "anthropic_messages",
            np.where(np.isin(provider, ["openai", "azure"]) & (ct_roll < 0.1), "aresponses", "acompletion"),
        ),
    )
    web = np.array([k.alias.startswith("initech-web") for k in cast.keys])[key_ix]
    pool = np.array([e.user_id for e in cast.end_users if e.user_id.startswith("cus_")])
    end_user = np.where(web & (rng.random(n) < 0.6), pool[rng.integers(0, len(pool), n)], "")
    extra = rng.random(n) < 0.05

    return pl.DataFrame(
        {
            "key_ix": key_ix.astype(np.int32),
            "dep_ix": dep_ix.astype(np.int8),
            "call_type": call_type,
            "start": pl.Series(start_us).cast(pl.Datetime("us")),
            "duration_ms": duration,
            "ttft_ms": ttft,
            "prompt": prompt,
            "completion": completion,
            "cached": cached.astype(np.int64),
            "spend": spend.astype(np.float64),
            "status": np.where(failure, "failure", "success"),
            "cache_hit": cache_hit,
            "end_user": end_user,
            "extra_tags": pl.Series([], dtype=pl.List(pl.String())).extend_constant(None, n),
            "write": pl.Series(write_us).cast(pl.Datetime("us")),
        },
        schema=CORE_SCHEMA,
    ).with_columns(
        extra_tags=pl.when(pl.lit(pl.Series(extra)))
        .then(pl.concat_list(pl.lit("priority:high")))
        .otherwise(pl.lit([], dtype=pl.List(pl.String())))
    )
