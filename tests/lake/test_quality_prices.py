"""The quality suite's price check: a log with a cost breakdown is checked against the prices it was written
with (its breakdown's total), not against the model's prices of today."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import polars as pl

from llmusage.lake.layout import dim_path, flavour_path
from llmusage.lake.quality import _prepare


def test_price_error_uses_the_breakdown_when_the_log_has_one(tmp_path: Path) -> None:
    dim_path(tmp_path, "models").parent.mkdir(parents=True, exist_ok=True)
    info = {"input_cost_per_token": 4e-6, "output_cost_per_token": 8e-6}  # today's prices, after a change
    pl.DataFrame({"model_name": ["m"], "model_info": [json.dumps(info)]}).write_parquet(
        dim_path(tmp_path, "models")
    )
    pl.DataFrame({"token": ["k"]}).write_parquet(dim_path(tmp_path, "keys"))
    flavour_path(tmp_path).write_text("llmusage")
    old = {"cost_breakdown": {"version": "base", "total": 7e-6}}  # 3 x 1e-6 + 2 x 2e-6, before the change
    logs = pl.DataFrame(
        {
            "request_id": ["a", "b", "c", "d"],
            "api_key": ["k"] * 4,
            "model": ["m"] * 4,
            "prompt_tokens": [3, 3, 3, 3],
            "completion_tokens": [2, 2, 2, 2],
            "total_tokens": [5] * 4,
            "spend": [7e-6, 2.8e-5, 7e-6, 1e-5],
            "event_time": [datetime(2027, 1, 1, 12)] * 4,
            "metadata": [
                json.dumps(old),
                None,
                None,
                json.dumps({"cost_breakdown": {"total": 2e-5}}),
            ],
        }
    )
    errors = _prepare(logs, tmp_path, date(2027, 1, 1), date(2027, 1, 1))["price_error"].to_list()
    # a: its breakdown (old prices) holds; b: no breakdown, today's prices hold; c: no breakdown and today's
    # prices do not hold; d: its spend is not its breakdown's total
    assert errors[0] <= 0 and errors[1] <= 0 and errors[2] > 0 and errors[3] > 0
