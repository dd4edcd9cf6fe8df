"""Chargeback lines as a FOCUS 1.2 cost and usage dataset, with FOCUS 1.3's provider columns.

One line per UTC day x sub-account x model x provider x user x key x tag set x token type (`input` for
prompt tokens, `output` for completion tokens; the normalized spend log has no cached-token count, so
cached input is not a type of its own), so that a line has one price: `ListUnitPrice x PricingQuantity =
ListCost` holds exactly (prices per token: `prices.py`; `PricingUnit` and `ConsumedUnit` are `Tokens`).

Who is who, for a gateway that charges teams back for what providers bill it:
- the gateway is the `ProviderName`, `ServiceProviderName` (1.3) and `InvoiceIssuerName`, and its
  operator the billing account (`Issuer`: `BillingAccountId`, `BillingAccountName`); the upstream provider
  (`openai`, `anthropic`, ...) is the `PublisherName` and `HostProviderName` (1.3). (FOCUS 1.2 rule
  BilledCost-C-005-C: BilledCost must be 0 where ProviderName differs from InvoiceIssuerName.)
- the team (or organization) is the sub-account; a log without one has SubAccountId and SubAccountName
  null, never a placeholder (NullHandling-A-002-M).
- `ServiceCategory` is "AI and Machine Learning", `ServiceName` and `SkuId` the model (the deployment),
  `SkuPriceId` the model and token type, `ChargeCategory` "Usage", `ChargeClass` null (no correction),
  `ChargeFrequency` "Usage-Based", `PricingCategory` "Standard".

Money: `BilledCost` and `EffectiveCost` are the logs' spend, exact as DECIMAL(38,12); a group's spend is
split between its input and output lines in proportion to their list costs (the input line's share rounded
to 12 places, the output line the rest), so the lines add up to the logs exactly. `ListCost` is the list
price times the tokens; with no negotiated prices, `ContractedUnitPrice` = `ListUnitPrice` and
`ContractedCost` = `ListCost`.

Tags are a flat JSON object of strings (KeyValueFormat-A-004-M): the request tags, `env:prod` as
`{"env": "prod"}` (a tag without `:` as `true`, Tags-C-008-M; two values of one key joined by `,`),
and the gateway's own under the `llmusage/` prefix (Tags-C-012-M): `llmusage/user` (email, else id),
`llmusage/user_id`, `llmusage/key_alias`, `llmusage/key_hash_prefix`; absent ones are left out.
The request counts (`x_Requests`, `x_FailedRequests`, `x_CachedRequests`) are on the input line of each
group and null on its output line, so that a sum counts each request once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl

from llmusage.reports.prices import PRICE_SCALE, Price

FOCUS_VERSION = "1.2"
CURRENCY = "USD"
SERVICE_CATEGORY = "AI and Machine Learning"
TAG_PREFIX = "llmusage/"
_QUANTUM = Decimal(1).scaleb(-PRICE_SCALE)
MONEY = pl.Decimal(38, PRICE_SCALE)
QUANTITY = pl.Decimal(38, 0)
UTC_TIME = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Issuer:
    """The gateway as FOCUS sees it: provider, invoice issuer and billing account of every line."""

    billing_account_id: str = "llm-gateway"
    billing_account_name: str = "LLM gateway"
    name: str = "LLM gateway"


SCHEMA: dict[str, pl.DataType] = {
    "BillingAccountId": pl.String,
    "BillingAccountName": pl.String,
    "BillingCurrency": pl.String,
    "BillingPeriodStart": UTC_TIME,
    "BillingPeriodEnd": UTC_TIME,
    "ChargeCategory": pl.String,
    "ChargeClass": pl.String,
    "ChargeDescription": pl.String,
    "ChargeFrequency": pl.String,
    "ChargePeriodStart": UTC_TIME,
    "ChargePeriodEnd": UTC_TIME,
    "ConsumedQuantity": QUANTITY,
    "ConsumedUnit": pl.String,
    "ContractedCost": MONEY,
    "ContractedUnitPrice": MONEY,
    "EffectiveCost": MONEY,
    "BilledCost": MONEY,
    "ListCost": MONEY,
    "ListUnitPrice": MONEY,
    "HostProviderName": pl.String,
    "InvoiceIssuerName": pl.String,
    "PricingCategory": pl.String,
    "PricingQuantity": QUANTITY,
    "PricingUnit": pl.String,
    "ProviderName": pl.String,
    "PublisherName": pl.String,
    "ServiceCategory": pl.String,
    "ServiceName": pl.String,
    "ServiceProviderName": pl.String,
    "SkuId": pl.String,
    "SkuPriceId": pl.String,
    "SubAccountId": pl.String,
    "SubAccountName": pl.String,
    "Tags": pl.String,
    "x_TokenType": pl.String,
    "x_ListPriceSource": pl.String,
    "x_Requests": pl.Int64,
    "x_FailedRequests": pl.Int64,
    "x_CachedRequests": pl.Int64,
}
FOCUS_COLUMNS = list(SCHEMA)


def plural(count: int, word: str) -> str:
    """`1 request`, `2 requests`, `1,234 tokens`."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def flat_tags(row: dict) -> str:
    """FOCUS Tags for a group (see the module docstring): a flat JSON object, keys sorted."""
    tags: dict[str, object] = {}
    for tag in row["tags"] or []:
        key, sep, value = tag.partition(":")
        if not key or key.startswith(TAG_PREFIX):
            continue  # a reserved prefix is never a user's key (Tags-C-017-M)
        if not sep:
            tags.setdefault(key, True)
        elif isinstance(tags.get(key), str):
            tags[key] = ",".join(sorted({*str(tags[key]).split(","), value}))
        else:
            tags[key] = value
    own = {
        "user": row["user"] if row["user_id"] else None,
        "user_id": row["user_id"],
        "key_alias": row["key_alias"] if not str(row["key_alias"]).startswith("(") else None,
        "key_hash_prefix": row["api_key"][:8] if row["api_key"] and len(row["api_key"]) == 64 else None,
    }
    tags.update({TAG_PREFIX + k: v for k, v in own.items() if v is not None})
    return json.dumps(dict(sorted(tags.items())), separators=(",", ":"), ensure_ascii=False)


def _requests_text(row: dict) -> str:
    text = plural(row["requests"], "request")
    if row["failed_requests"]:
        text += f", {row['failed_requests']:,} failed"
    if row["cached_requests"]:
        text += f", {row['cached_requests']:,} cached"
    return text


def _split(cost: Decimal, list_in: Decimal, list_out: Decimal, prompt: int, completion: int) -> Decimal:
    """The input line's part of a group's cost (the output line gets the rest)."""
    weight_in, weight_all = (
        (list_in, list_in + list_out) if list_in + list_out > 0 else (prompt, prompt + completion)
    )
    if not weight_all:
        return cost
    return (cost * weight_in / weight_all).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def focus_lines(
    raw: pl.DataFrame, start: date, end: date, price: Callable[[str, str | None], Price], issuer: Issuer
) -> pl.DataFrame:
    """FOCUS lines from the chargeback groups of `sql/reports/chargeback_lines.sql` (already sorted)."""
    period_start = datetime(start.year, start.month, start.day, tzinfo=UTC)
    period_end = datetime(end.year, end.month, end.day, tzinfo=UTC)
    columns: dict[str, list] = {c: [] for c in SCHEMA}
    for row in raw.iter_rows(named=True):
        p = price(row["model"], row["model_group"])
        cost = Decimal(row["cost"] or 0)
        prompt, completion = int(row["prompt_tokens"] or 0), int(row["completion_tokens"] or 0)
        list_in, list_out = p.input * prompt, p.output * completion
        billed_in = _split(cost, list_in, list_out, prompt, completion)
        day = datetime(row["day"].year, row["day"].month, row["day"].day, tzinfo=UTC)
        provider = None if row["provider"] in (None, "(unknown)") else row["provider"]
        common = {
            "BillingAccountId": issuer.billing_account_id,
            "BillingAccountName": issuer.billing_account_name,
            "BillingCurrency": CURRENCY,
            "BillingPeriodStart": period_start,
            "BillingPeriodEnd": period_end,
            "ChargeCategory": "Usage",
            "ChargeClass": None,
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodStart": day,
            "ChargePeriodEnd": day + timedelta(days=1),
            "ConsumedUnit": "Tokens",
            "HostProviderName": provider,
            "InvoiceIssuerName": issuer.name,
            "PricingCategory": "Standard",
            "PricingUnit": "Tokens",
            "ProviderName": issuer.name,
            "PublisherName": provider or issuer.name,
            "ServiceCategory": SERVICE_CATEGORY,
            "ServiceName": row["model"],
            "ServiceProviderName": issuer.name,
            "SkuId": row["model"],
            "SubAccountId": row["sub_account_id"],
            "SubAccountName": row["sub_account_name"] if row["sub_account_id"] is not None else None,
            "Tags": flat_tags(row),
            "x_ListPriceSource": p.source,
        }
        who = f"by {row['user']} with key {row['key_alias']}"
        lines = [("input", prompt, p.input, list_in, billed_in, True)]
        if completion or cost - billed_in:
            lines.append(("output", completion, p.output, list_out, cost - billed_in, False))
        for token_type, quantity, unit, listed, billed, first in lines:
            description = f"{plural(quantity, f'{token_type} token')} to {row['model']} {who}"
            values = {
                **common,
                "ChargeDescription": description + (f" ({_requests_text(row)})" if first else ""),
                "ConsumedQuantity": Decimal(quantity),
                "PricingQuantity": Decimal(quantity),
                "ListUnitPrice": unit,
                "ContractedUnitPrice": unit,
                "ListCost": listed,
                "ContractedCost": listed,
                "BilledCost": billed,
                "EffectiveCost": billed,
                "SkuPriceId": f"{row['model']}/{token_type}",
                "x_TokenType": token_type,
                "x_Requests": row["requests"] if first else None,
                "x_FailedRequests": row["failed_requests"] if first else None,
                "x_CachedRequests": row["cached_requests"] if first else None,
            }
            for column in SCHEMA:
                columns[column].append(values[column])
    return pl.DataFrame(columns, schema=SCHEMA)
