"""The FOCUS 1.2 conformance suite (`support/focus_rules.py`) itself: it passes lines as `focus.py` makes
them, and each rule catches the defect it is about (the defects issue 14 found in the old statement among
them: a nested Tags array, "(none)" for a missing sub-account, "1 requests", float costs, missing columns,
a unit price that does not multiply out). Every statement the other tests produce, of both flavours, by
team and by organization, goes through the same suite (`check_statement`, `check_lines`)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from llmusage.reports.focus import Issuer, flat_tags, focus_lines, plural
from llmusage.reports.prices import Price, _solve
from support.focus_rules import csv_violations, violations

RAW = pl.DataFrame(
    {
        "day": [date(2026, 3, 2), date(2026, 3, 3)],
        "sub_account_id": ["team-x", None],
        "sub_account_name": ["search", None],
        "model": ["gpt-4o", "text-embedding-3"],
        "model_group": ["gpt-4o", "text-embedding-3"],
        "provider": ["openai", "(unknown)"],
        "user_id": ["u1", None],
        "user": ["u1@example.com", "(no user)"],
        "api_key": ["a" * 64, "litellm_proxy_master_key"],
        "key_alias": ["search-prod", "(master key)"],
        "tags": [["env:prod", "env:dev", "pii"], []],
        "requests": [1, 3],
        "failed_requests": [0, 1],
        "cached_requests": [0, 0],
        "prompt_tokens": [1000, 30],
        "completion_tokens": [500, 0],
        "cost": [Decimal("0.0075"), Decimal("0.0000006")],
    }
)
PRICES = {"gpt-4o": Price(Decimal("0.0000025"), Decimal("0.00001"), "model table")}


def _lines() -> pl.DataFrame:
    def price(model: str, group: str | None) -> Price:
        return PRICES.get(model, Price(Decimal("0.00000002"), Decimal(0), "derived from logs"))

    return focus_lines(RAW, date(2026, 3, 1), date(2026, 4, 1), price, Issuer())


def test_lines_as_made_conform() -> None:
    lines = _lines()
    assert violations(lines) == []
    csv = lines.write_csv(datetime_format="%Y-%m-%dT%H:%M:%SZ")
    assert csv_violations(csv) == []
    assert lines["x_TokenType"].to_list() == ["input", "output", "input"]  # no output line without tokens
    assert sum(lines["BilledCost"].to_list(), Decimal(0)) == Decimal("0.0075006")
    first, second, third = lines.iter_rows(named=True)
    assert (first["ListCost"], second["ListCost"]) == (Decimal("0.0025"), Decimal("0.005"))
    assert first["BilledCost"] == Decimal("0.0025") and second["BilledCost"] == Decimal("0.005")
    assert (
        first["ChargeDescription"]
        == "1,000 input tokens to gpt-4o by u1@example.com with key search-prod (1 request)"
    )
    assert second["ChargeDescription"] == "500 output tokens to gpt-4o by u1@example.com with key search-prod"
    assert second["x_Requests"] is None  # counted once, on the input line
    assert third["SubAccountId"] is None and third["SubAccountName"] is None
    assert third["HostProviderName"] is None and third["PublisherName"] == "LLM gateway"
    assert third["ChargeDescription"].endswith("(3 requests, 1 failed)")
    assert json.loads(first["Tags"]) == {
        "env": "dev,prod",
        "pii": True,
        "llmusage/key_alias": "search-prod",
        "llmusage/key_hash_prefix": "a" * 8,
        "llmusage/user": "u1@example.com",
        "llmusage/user_id": "u1",
    }
    assert json.loads(third["Tags"]) == {}  # the master key, no user: nothing to tag, no placeholders


def test_plurals() -> None:
    assert [plural(n, "request") for n in (0, 1, 2, 1234)] == [
        "0 requests",
        "1 request",
        "2 requests",
        "1,234 requests",
    ]


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda f: f.drop("ListCost"), "CostAndUsage-D-032-M"),
        (lambda f: f.drop("ServiceProviderName"), "FOCUS-1.3 ServiceProviderName"),
        (lambda f: f.with_columns(pl.col("BilledCost").cast(pl.Float64)), "BilledCost-C-001-M"),
        (
            lambda f: f.with_columns(pl.col("ChargePeriodStart").dt.replace_time_zone(None)),
            "ChargePeriodStart-C-001-M",
        ),
        (lambda f: f.with_columns(SubAccountId=pl.lit("(none)")), "NullHandling-A-002-M"),
        (lambda f: f.with_columns(SubAccountName=pl.lit(None, pl.String)), "SubAccountName-C-004-C/C-005-C"),
        (lambda f: f.with_columns(Tags=pl.lit('{"request_tags": ["env:prod"]}')), "KeyValueFormat-A-004-M"),
        (lambda f: f.with_columns(Tags=pl.lit('{"a": "1", "a": "2"}')), "KeyValueFormat-A-002-M"),
        (lambda f: f.with_columns(ChargeDescription=pl.lit("1 requests to gpt-4o")), "wrong plural"),
        (lambda f: f.with_columns(ListCost=pl.col("ListCost") + Decimal("0.000001")), "ListCost-C-009-C"),
        (lambda f: f.with_columns(ServiceCategory=pl.lit("AI")), "ServiceCategory-C-003-M"),
        (lambda f: f.with_columns(ChargeClass=pl.lit("Refund")), "ChargeClass-C-005-C"),
        (lambda f: f.with_columns(ChargeCategory=pl.lit(None, pl.String)), "ChargeCategory-C-002-M"),
        (lambda f: f.with_columns(ProviderName=pl.lit("openai")), "BilledCost-C-005-C"),
        (
            lambda f: f.with_columns(ListUnitPrice=pl.lit(None, f.schema["ListUnitPrice"])),
            "ListUnitPrice-C-005-C",
        ),
        (lambda f: f.with_columns(PricingUnit=pl.lit("tokens")), "UnitFormat-A-003-M"),
        (lambda f: f.with_columns(BillingPeriodEnd=pl.col("BillingPeriodStart")), "BillingPeriodEnd-C-004-M"),
        (lambda f: f.with_columns(BillingCurrency=pl.lit("usd")), "BillingCurrency-C-003-M"),
        (lambda f: f.rename({"x_TokenType": "TokenType"}), "ColumnHandling-A-010-M"),
    ],
)
def test_each_rule_catches_its_defect(mutate, rule: str) -> None:
    broken = violations(mutate(_lines()))
    assert any(rule in e for e in broken), broken


def test_csv_formats() -> None:
    lines = _lines()
    naive = lines.write_csv(datetime_format="%Y-%m-%d %H:%M:%S")  # the old first_exceeded_at defect
    assert any("DateTimeFormat-A-003-M" in e for e in csv_violations(naive))
    floats = lines.with_columns(pl.col("BilledCost").cast(pl.String) + "USD").write_csv(
        datetime_format="%Y-%m-%dT%H:%M:%SZ"
    )
    assert any("NumericFormat" in e for e in csv_violations(floats))


def test_prices_from_logs_are_exact_for_constant_prices() -> None:
    a, b = 2.5e-6, 1e-5
    logs = [(1000, 500), (10, 0), (400, 4000)]
    sums = (
        sum(p * p for p, _ in logs),
        sum(p * c for p, c in logs),
        sum(c * c for _, c in logs),
        sum(p * (a * p + b * c) for p, c in logs),
        sum(c * (a * p + b * c) for p, c in logs),
    )
    assert _solve(*sums) == (pytest.approx(a), pytest.approx(b))
    assert _solve(100.0, 0.0, 0.0, 100.0 * 3e-8 * 10, 0.0) == (pytest.approx(3e-7), 0.0)  # embeddings


def test_tags_never_nest_and_skip_reserved_keys() -> None:
    row = {"tags": ["llmusage/user:spoof", "team:a"], "user": "(no user)", "user_id": None,
           "key_alias": "(deleted key)", "api_key": "b" * 64}  # fmt: skip
    assert json.loads(flat_tags(row)) == {"team": "a", "llmusage/key_hash_prefix": "bbbbbbbb"}
