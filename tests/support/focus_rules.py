"""FOCUS 1.2 conformance rules for chargeback statements, each with the rule id of the FOCUS 1.2
requirements model (the FinOps Foundation's `focus_validator`, `rules/model-1.2.json`, whose
`MustSatisfy` texts are the specification's normative sentences), plus FOCUS 1.3's ServiceProviderName
and HostProviderName.

`violations(lines)` checks a statement's lines as produced (polars, the Parquet file's types);
`csv_violations(text)` checks the CSV file's text formats (date/time, numbers). `check_statement(dir)`
runs both on a statement directory and fails with every broken rule. Rules that cannot be checked on a
dataset alone (e.g. BilledCost-C-007-M, sums matching an invoice) are not here; the statement tests check
totals against PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import polars as pl

MANDATORY = (  # FOCUS 1.2 columns whose Feature level is Mandatory: CostAndUsage-D-0xx-M presence rules
    ("CostAndUsage-D-024-M", "BillingAccountId"), ("CostAndUsage-D-005-M", "BillingAccountName"),
    ("CostAndUsage-D-035-M", "BillingCurrency"), ("CostAndUsage-D-009-M", "BillingPeriodStart"),
    ("CostAndUsage-D-010-M", "BillingPeriodEnd"), ("CostAndUsage-D-008-M", "ChargeCategory"),
    ("CostAndUsage-D-026-M", "ChargeClass"), ("CostAndUsage-D-025-M", "ChargeDescription"),
    ("CostAndUsage-D-037-M", "ChargePeriodStart"), ("CostAndUsage-D-028-M", "ChargePeriodEnd"),
    ("CostAndUsage-D-030-M", "ContractedCost"), ("CostAndUsage-D-031-M", "EffectiveCost"),
    ("CostAndUsage-D-006-M", "BilledCost"), ("CostAndUsage-D-032-M", "ListCost"),
    ("CostAndUsage-D-023-M", "InvoiceIssuerName"), ("CostAndUsage-D-036-M", "PricingQuantity"),
    ("CostAndUsage-D-068-M", "PricingUnit"), ("CostAndUsage-D-038-M", "ProviderName"),
    ("CostAndUsage-D-021-M", "PublisherName"), ("CostAndUsage-D-040-M", "ServiceCategory"),
    ("CostAndUsage-D-041-M", "ServiceName"), ("CostAndUsage-D-022-C", "PricingCategory"),
    # conditional on what the provider supports, which a gateway does: sub accounts, usage measurement,
    # tags, published unit prices (the model table), price lists
    ("CostAndUsage-D-019-C", "SubAccountId"), ("CostAndUsage-D-029-C", "SubAccountName"),
    ("CostAndUsage-D-011-C", "ConsumedQuantity"), ("CostAndUsage-D-066-C", "ConsumedUnit"),
    ("CostAndUsage-D-064-C", "Tags"), ("CostAndUsage-D-004-C", "ListUnitPrice"),
    ("CostAndUsage-D-058-C", "SkuPriceId"),
    ("FOCUS-1.3 ServiceProviderName (Mandatory)", "ServiceProviderName"),
    ("FOCUS-1.3 HostProviderName", "HostProviderName"),
)  # fmt: skip
DECIMAL = {  # column -> its "MUST be of type Decimal" rule
    "BilledCost": "BilledCost-C-001-M", "EffectiveCost": "EffectiveCost-C-001-M",
    "ListCost": "ListCost-C-001-M", "ContractedCost": "ContractedCost-C-001-M",
    "PricingQuantity": "PricingQuantity-C-001-M", "ConsumedQuantity": "ConsumedQuantity-C-001-M",
    "ListUnitPrice": "ListUnitPrice-C-001-M", "ContractedUnitPrice": "ContractedUnitPrice-C-002-M",
}  # fmt: skip
DATETIME = {
    "BillingPeriodStart": "BillingPeriodStart-C-001-M", "BillingPeriodEnd": "BillingPeriodEnd-C-001-M",
    "ChargePeriodStart": "ChargePeriodStart-C-001-M", "ChargePeriodEnd": "ChargePeriodEnd-C-001-M",
}  # fmt: skip
STRING = {
    "BillingAccountId": "BillingAccountId-C-002-M", "BillingAccountName": "BillingAccountName-C-001-M",
    "BillingCurrency": "BillingCurrency-C-001-M", "ChargeCategory": "ChargeCategory-C-001-M",
    "ChargeClass": "ChargeClass-C-001-M", "ChargeDescription": "ChargeDescription-C-001-M",
    "ConsumedUnit": "ConsumedUnit-C-001-M", "InvoiceIssuerName": "InvoiceIssuerName-C-001-M",
    "PricingCategory": "PricingCategory-C-001-M", "PricingUnit": "PricingUnit-C-001-M",
    "ProviderName": "ProviderName-C-001-M", "PublisherName": "PublisherName-C-001-M",
    "ServiceCategory": "ServiceCategory-C-001-M", "ServiceName": "ServiceName-C-001-M",
    "SkuPriceId": "SkuPriceId-C-001-M", "SubAccountId": "SubAccountId-C-001-M",
    "SubAccountName": "SubAccountName-C-001-M", "ServiceProviderName": "FOCUS-1.3 ServiceProviderName",
    "HostProviderName": "FOCUS-1.3 HostProviderName",
}  # fmt: skip
NOT_NULL = {  # "MUST NOT be null" (for Usage charges that are not corrections: every line here)
    "BillingAccountId": "BillingAccountId-C-001-M", "BillingCurrency": "BillingCurrency-C-004-M",
    "BillingPeriodStart": "BillingPeriodStart-C-003-M", "BillingPeriodEnd": "BillingPeriodEnd-C-003-M",
    "ChargeCategory": "ChargeCategory-C-002-M", "ChargePeriodStart": "ChargePeriodStart-C-003-M",
    "ChargePeriodEnd": "ChargePeriodEnd-C-003-M", "BilledCost": "BilledCost-C-003-M",
    "EffectiveCost": "EffectiveCost-C-003-M", "ListCost": "ListCost-C-003-M",
    "ContractedCost": "ContractedCost-C-003-M", "InvoiceIssuerName": "InvoiceIssuerName-C-003-M",
    "ProviderName": "ProviderName-C-003-M", "PublisherName": "PublisherName-C-003-M",
    "ServiceCategory": "ServiceCategory-C-002-M", "ServiceName": "ServiceName-C-003-M",
    "BillingAccountName": "BillingAccountName-C-003-C", "ChargeDescription": "ChargeDescription-C-003-O",
    "PricingQuantity": "PricingQuantity-C-005-C", "PricingCategory": "PricingCategory-C-004-C",
    "ListUnitPrice": "ListUnitPrice-C-005-C", "ContractedUnitPrice": "ContractedUnitPrice-C-006-C",
    "SkuPriceId": "SkuPriceId-C-005-C", "ConsumedQuantity": "ConsumedQuantity-C-006-C",
    "ServiceProviderName": "FOCUS-1.3 ServiceProviderName",
}  # fmt: skip
ALLOWED = {
    "ChargeCategory": ("ChargeCategory-C-003-M", {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ServiceCategory": ("ServiceCategory-C-003-M", {
        "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
        "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
        "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security", "Storage",
        "Web", "Other"}),
    "PricingCategory": ("PricingCategory-C-007-M", {"Standard", "Committed", "Dynamic", "Other"}),
    "ChargeClass": ("ChargeClass-C-005-C", {"Correction"}),
    "ChargeFrequency": ("ChargeFrequency-C-003-M", {"One-Time", "Recurring", "Usage-Based"}),
}  # fmt: skip
PLACEHOLDERS = re.compile(r"^\((none|no [a-z ]+|unknown)\)$|^(N/?A|Not Applicable|null|None)$", re.IGNORECASE)
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE]-?\d+)?$")
UNIT = re.compile(r"^(\d+ )?[A-Z][a-z]+( [A-Z][a-z]+)*$")
BAD_PLURAL = re.compile(
    r"(?<![\d,.])1 (\w+ )?(requests|tokens)\b|(?<![\d,.])(0|[2-9]|\d{2,}) (\w+ )?(request|token)\b"
)
OWN_TAG_KEYS = {"llmusage/user", "llmusage/user_id", "llmusage/key_alias", "llmusage/key_hash_prefix"}

Rule = Callable[[pl.DataFrame], list[str]]


def _rows(frame: pl.DataFrame, mask: pl.Expr, rule: str, what: str) -> list[str]:
    bad = frame.with_row_index("_row").filter(mask.fill_null(False))
    if bad.height == 0:
        return []
    return [f"{rule}: {what} (rows {bad['_row'].head(5).to_list()}, {bad.height} in all)"]


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("KeyValueFormat-A-002-M: duplicate key")
    return dict(pairs)


def _tags(frame: pl.DataFrame) -> list[str]:
    errors = []
    for i, text in enumerate(frame["Tags"].to_list()):
        if text is None:
            continue  # Tags-C-002-O: Tags MAY be null
        try:
            tags = json.loads(text, object_pairs_hook=_unique_keys)
        except ValueError as exc:
            errors.append(f"KeyValueFormat-A-001-M/A-002-M: row {i}: {exc}")
            continue
        if not isinstance(tags, dict):
            errors.append(f"KeyValueFormat-A-001-M: row {i}: not a JSON object")
            continue
        for key, value in tags.items():
            if isinstance(value, dict | list):
                errors.append(f"KeyValueFormat-A-004-M: row {i}: {key} is an object or an array")
            if key.startswith("llmusage/") and key not in OWN_TAG_KEYS:
                errors.append(f"Tags-C-012-M: row {i}: unknown provider-defined key {key}")
            if key.removeprefix("llmusage/") != key and value in ("", None):
                errors.append(f"NullHandling-A-002-M: row {i}: empty provider tag {key}")
        if errors:
            break
    return errors


def _product(frame: pl.DataFrame, price: str, quantity: str, cost: str, rule: str) -> list[str]:
    bad = [
        i
        for i, (p, q, c) in enumerate(frame.select(price, quantity, cost).iter_rows())
        if p is not None and q is not None and Decimal(p) * Decimal(q) != Decimal(c)
    ]
    return [f"{rule}: {price} x {quantity} != {cost} (rows {bad[:5]})"] if bad else []


def violations(lines: pl.DataFrame) -> list[str]:
    """Every FOCUS 1.2 rule the lines break (empty: conformant)."""
    errors = [f"{rule}: {column} is missing" for rule, column in MANDATORY if column not in lines.columns]
    if errors:
        return errors
    schema = lines.schema
    for column, rule in DECIMAL.items():
        if not schema[column].is_decimal():
            errors.append(f"{rule}: {column} is {schema[column]}, not Decimal")
    for column, rule in DATETIME.items():
        dtype = schema[column]
        if not isinstance(dtype, pl.Datetime) or dtype.time_zone != "UTC":
            errors.append(f"{rule} / DateTimeFormat-A-001-M: {column} is {dtype}, not a UTC date/time")
    for column, rule in STRING.items():
        if schema[column] not in (pl.String, pl.Null):
            errors.append(f"{rule}: {column} is {schema[column]}, not String")
    known = (
        {c for _, c in MANDATORY} | set(DECIMAL) | set(DATETIME) | set(STRING) | {"ChargeFrequency", "SkuId"}
    )
    for column in lines.columns:
        if not (column in known or column.startswith("x_")):
            errors.append(f"ColumnHandling-A-010-M: custom column {column} lacks the x_ prefix")
    if errors:
        return errors
    for column, rule in NOT_NULL.items():
        errors += _rows(lines, pl.col(column).is_null(), rule, f"{column} is null")
    for column, (rule, allowed) in ALLOWED.items():
        if column in lines.columns:
            errors += _rows(lines, ~pl.col(column).is_in(list(allowed)) & pl.col(column).is_not_null(), rule,
                            f"{column} outside {sorted(allowed)}")  # fmt: skip
    strings = [c for c, t in schema.items() if t == pl.String and not c.startswith("x_") and c != "Tags"]
    for column in strings:
        errors += _rows(lines, pl.col(column).str.strip_chars() == "", "StringHandling-A-007-M / NullHandling-A-002-M",
                        f"{column} is empty or blank")  # fmt: skip
        errors += _rows(lines, pl.col(column).str.contains(PLACEHOLDERS.pattern), "NullHandling-A-002-M",
                        f"{column} holds a placeholder for a missing value")  # fmt: skip
    errors += _rows(lines, ~pl.col("BillingCurrency").str.contains(r"^[A-Z]{3}$"), "BillingCurrency-C-003-M",
                    "not an ISO 4217 code")  # fmt: skip
    errors += _rows(lines, (pl.col("ProviderName") != pl.col("InvoiceIssuerName")) & (pl.col("BilledCost") != 0),
                    "BilledCost-C-005-C", "a third party's charge with a BilledCost")  # fmt: skip
    start, end = pl.col("BillingPeriodStart"), pl.col("BillingPeriodEnd")
    errors += _rows(lines, (start.dt.day() != 1) | (start.dt.time() != pl.time(0)), "BillingPeriodStart-C-004-M",
                    "not the inclusive start of a calendar month")  # fmt: skip
    errors += _rows(lines, end != start.dt.offset_by("1mo"), "BillingPeriodEnd-C-004-M",
                    "not the exclusive end of the billing period")  # fmt: skip
    charge_start, charge_end = pl.col("ChargePeriodStart"), pl.col("ChargePeriodEnd")
    errors += _rows(
        lines, charge_end <= charge_start, "ChargePeriodEnd-C-004-M", "does not end after it starts"
    )
    errors += _rows(lines, (charge_start < start) | (charge_end > end), "ChargePeriodStart-C-004-M",
                    "charge period outside the billing period")  # fmt: skip
    errors += _rows(lines, pl.col("ConsumedUnit").is_null() != pl.col("ConsumedQuantity").is_null(),
                    "ConsumedUnit-C-005-C/C-006-C", "ConsumedUnit null iff ConsumedQuantity null")  # fmt: skip
    errors += _rows(lines, pl.col("PricingUnit").is_null() != pl.col("PricingQuantity").is_null(),
                    "PricingUnit-C-005-C/C-006-C", "PricingUnit null iff PricingQuantity null")  # fmt: skip
    for column, rule in (("PricingUnit", "PricingUnit-C-003-O / UnitFormat-A-003-M"),
                         ("ConsumedUnit", "ConsumedUnit-C-003-O / UnitFormat-A-003-M")):  # fmt: skip
        errors += _rows(
            lines, ~pl.col(column).str.contains(UNIT.pattern), rule, f"{column} not in UnitFormat"
        )
    errors += _rows(lines, pl.col("SubAccountName").is_null() != pl.col("SubAccountId").is_null(),
                    "SubAccountName-C-004-C/C-005-C", "SubAccountName null iff SubAccountId null")  # fmt: skip
    errors += _rows(lines, pl.col("ListUnitPrice") < 0, "ListUnitPrice-C-008-M", "negative")
    errors += _rows(lines, pl.col("ContractedUnitPrice") < 0, "ContractedUnitPrice-C-009-C", "negative")
    errors += _product(
        lines, "ListUnitPrice", "PricingQuantity", "ListCost", "ListCost-C-009-C / ListUnitPrice-C-010-C"
    )
    errors += _product(lines, "ContractedUnitPrice", "PricingQuantity", "ContractedCost",
                       "ContractedCost-C-009-C / ContractedUnitPrice-C-011-C")  # fmt: skip
    for a, b, rule in (("ServiceName", "ServiceCategory", "ServiceName-C-005-C"),
                       ("SkuPriceId", "SkuId", "SkuPriceId-C-008-M")):  # fmt: skip
        if b in lines.columns:
            many = lines.group_by(a).agg(pl.col(b).n_unique().alias("n")).filter(pl.col("n") != 1)
            errors += [f"{rule}: {a} {v!r} has {n} {b} values" for v, n in many.head(5).iter_rows()]
    plurals = [i for i, d in enumerate(lines["ChargeDescription"].to_list()) if d and BAD_PLURAL.search(d)]
    if plurals:
        errors.append(f"ChargeDescription (issue 14): a wrong plural (rows {plurals[:5]})")
    return errors + _tags(lines)


def csv_violations(text: str) -> list[str]:
    """The CSV file's value formats: date/times, numbers."""
    errors: list[str] = []
    reader = csv.DictReader(io.StringIO(text))
    for i, row in enumerate(reader):
        for column in DATETIME:
            if not ISO_UTC.match(row[column]):
                errors.append(f"DateTimeFormat-A-003-M..A-006-M: row {i} {column} {row[column]!r}")
        for column, rule in DECIMAL.items():
            if row[column] != "" and not NUMBER.match(row[column]):
                errors.append(f"{rule} / NumericFormat-A-003-M..A-010-M: row {i} {column} {row[column]!r}")
        if errors:
            break
    return errors


def check_statement(directory: Path) -> pl.DataFrame:
    """Fail with every broken rule of the statement in `directory`; return its lines."""
    lines = pl.read_parquet(directory / "chargeback.parquet")
    errors = violations(lines) + csv_violations((directory / "chargeback.csv").read_text())
    assert not errors, f"{directory} breaks FOCUS 1.2:\n" + "\n".join(errors)
    return lines


def check_lines(lines: pl.DataFrame) -> pl.DataFrame:
    errors = violations(lines)
    assert not errors, "the lines break FOCUS 1.2:\n" + "\n".join(errors)
    return lines
