"""`llmusage.pricing` on its own: hand-computed costs to 1e-12 USD for each component, the fallbacks, usage
parsing, and price schedules at their boundaries (a change at midnight)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llmusage.pricing import Prices, PriceSchedule, Usage, price

TOL = 1e-12


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_every_component_at_its_price() -> None:
    prices = Prices.of(
        {
            "input_cost_per_token": 2e-6,
            "output_cost_per_token": 8e-6,
            "cache_read_input_token_cost": 5e-7,
            "cache_creation_input_token_cost": 2.5e-6,
            "output_cost_per_reasoning_token": 1e-5,
            "input_cost_per_audio_token": 4e-5,
            "output_cost_per_audio_token": 8e-5,
            "input_cost_per_image_token": 3e-6,
            "output_cost_per_image_token": 3e-5,
            "input_cost_per_request": 0.001,
        }
    )
    usage = Usage(100, 50, cached=40, cache_creation=10, reasoning=20, input_audio=5, output_audio=4,
                  input_image=15, output_image=6)  # fmt: skip
    priced = price(usage, prices)
    # input 30 x 2e-6 = 6e-5; cached 40 x 5e-7 = 2e-5; creation 10 x 2.5e-6 = 2.5e-5; audio in 5 x 4e-5 = 2e-4;
    # image in 15 x 3e-6 = 4.5e-5; output 20 x 8e-6 = 1.6e-4; reasoning 20 x 1e-5 = 2e-4;
    # audio out 4 x 8e-5 = 3.2e-4; image out 6 x 3e-5 = 1.8e-4; request 0.001
    expected = 6e-5 + 2e-5 + 2.5e-5 + 2e-4 + 4.5e-5 + 1.6e-4 + 2e-4 + 3.2e-4 + 1.8e-4 + 0.001
    assert abs(priced.total - 0.00221) < TOL and abs(expected - 0.00221) < TOL
    b = priced.breakdown
    assert b["input"]["tokens"] == 30 and abs(b["input"]["cost"] - 6e-5) < TOL
    assert b["output"]["tokens"] == 20 and abs(b["reasoning"]["cost"] - 2e-4) < TOL
    assert b["request"] == {"tokens": 1, "price": 0.001, "cost": 0.001}
    assert b["version"] == "base" and "parts_exceed_total" not in b


def test_absent_prices_fall_back_to_the_text_price_of_their_side() -> None:
    prices = Prices.of({"input_cost_per_token": 1e-6, "output_cost_per_token": 3e-6})
    priced = price(Usage(10, 10, cached=4, cache_creation=2, reasoning=6, output_audio=1), prices)
    # every input token at 1e-6, every output token at 3e-6: 10 x 1e-6 + 10 x 3e-6
    assert abs(priced.total - 4e-5) < TOL
    assert "request" not in priced.breakdown  # no per-request price: no component


def test_parts_exceeding_their_whole_are_priced_as_reported_and_flagged() -> None:
    prices = Prices.of({"input_cost_per_token": 1e-6, "cache_read_input_token_cost": 1e-7})
    priced = price(Usage(5, 0, cached=8), prices)
    assert abs(priced.total - 8e-7) < TOL and priced.breakdown["parts_exceed_total"] is True
    assert "input" not in priced.breakdown


def test_usage_from_openai_and_litellm_shapes() -> None:
    openai_usage = {
        "prompt_tokens": 12,
        "completion_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 1},
        "completion_tokens_details": {"reasoning_tokens": 3, "audio_tokens": None},
    }
    assert Usage.of(openai_usage) == Usage(12, 9, cached=4, reasoning=3, input_audio=1)
    litellm_usage = {"prompt_tokens": 30, "completion_tokens": 2, "cache_read_input_tokens": 10,
                     "cache_creation_input_tokens": 15}  # fmt: skip
    assert Usage.of(litellm_usage) == Usage(30, 2, cached=10, cache_creation=15)
    assert Usage.of({"prompt_tokens": 7, "completion_tokens": 99}, embedding=True) == Usage(7, 0)
    with pytest.raises(ValueError):
        Usage.of({"prompt_tokens": "many"})


def test_a_price_change_at_midnight() -> None:
    schedule = PriceSchedule.of(
        {
            "input_cost_per_token": 1e-6,
            "output_cost_per_token": 2e-6,
            "price_history": [
                {"valid_from": "2027-02-01T00:00:00Z", "output_cost_per_token": 3e-6},
                {"valid_from": "2027-01-01T00:00:00", "version": "jan", "input_cost_per_token": 4e-6},
            ],
        }
    )
    usage = Usage(10, 10)
    before = price(usage, schedule.at(_epoch("2026-12-31T23:59:59.999999")))
    at_midnight = price(usage, schedule.at(_epoch("2027-01-01T00:00:00")))
    later = price(usage, schedule.at(_epoch("2027-02-01T00:00:00")))
    assert before.breakdown["version"] == "base" and abs(before.total - 3e-5) < TOL  # 10e-6 + 20e-6
    assert at_midnight.breakdown["version"] == "jan" and abs(at_midnight.total - 6e-5) < TOL  # 40e-6 + 20e-6
    # February changes only the output price; January's input price carries on: 40e-6 + 30e-6
    assert later.breakdown["version"] == "2027-02-01T00:00:00Z" and abs(later.total - 7e-5) < TOL


def test_a_null_in_an_entry_removes_that_price() -> None:
    schedule = PriceSchedule.of(
        {
            "input_cost_per_token": 1e-6,
            "cache_read_input_token_cost": 1e-7,
            "price_history": [
                {"valid_from": "2027-01-01T00:00:00+00:00", "cache_read_input_token_cost": None}
            ],
        }
    )
    after = schedule.at(_epoch("2027-01-01T00:00:00"))
    assert after.cached_input == 1e-6  # back to the input price


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"input_cost_per_token": -1}, "non-negative"),
        ({"input_cost_per_token": True}, "non-negative"),
        ({"price_history": {"valid_from": "2027-01-01"}}, "list"),
        ({"price_history": [{"valid_from": "soon"}]}, "Invalid isoformat"),
        ({"price_history": [{"valid_from": "2027-01-01"}, {"valid_from": "2027-01-01T00:00:00Z"}]}, "two"),
    ],
)
def test_malformed_prices_are_refused(info: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PriceSchedule.of(info)
