"""Monthly chargeback statements as FOCUS 1.2 datasets (with 1.3's provider columns), frozen once the
month is closed.

Lines. One line per UTC day x sub-account (team, or organization with `by="org"`) x model x provider x
user x key x set of request tags x token type (`sql/reports/chargeback_lines.sql`, then `focus.py`): fine
enough that finance can re-slice any way it likes, and every spend log is in exactly one group. Logs
without a team (or organization, as the log carries it) have SubAccountId null. `x_Requests` counts the
group's logs that neither failed nor were cache hits, `x_FailedRequests` and `x_CachedRequests` the
others; the cost is over all of them (a failure or a cache hit usually costs 0, and whatever it cost is
charged). The columns, their types and values are `focus.py`'s; list prices are `prices.py`'s.

Money. BilledCost and EffectiveCost are the exact sum of the lines' spend logs as DECIMAL(38,12): each
log's float spend is taken to 12 decimal places (a picodollar) and summed exactly, so nothing is rounded
to the cent in the lines and the lines add up to the month. Only `summary.md` shows cents: its total is
rounded once from the exact sum, and the per-sub-account amounts are rounded by the largest-remainder
method so that they add up to that total (never a cent lost or invented by rounding).

Freezing. A statement is written to `<out>/YYYY-MM/<team|org>/` (chargeback.csv, chargeback.parquet,
summary.md, manifest.json) aside, then renamed into place. A month is *closed* when the lake was last
written at least `LAG_WINDOW` (`llmusage.lake.lag`) after the month ended (late rows have had time to land); a closed month's
statement is frozen: a re-run leaves its bytes untouched and says so (after checking them against the
SHA-256 digests in manifest.json: an altered file is an error), and only `restate=True` rebuilds it
(the old one is replaced whole). A month not yet closed gives a *provisional* statement, rebuilt on
every run. The CSV, Parquet and summary bytes depend only on the data (no clock), so a restatement of
unchanged data reproduces them exactly; the time of production is in manifest.json only.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import polars as pl

from llmusage.errors import LlmusageError
from llmusage.lake.lag import LAG_WINDOW
from llmusage.lake.layout import aside_path
from llmusage.money import usd
from llmusage.reports.focus import CURRENCY, FOCUS_COLUMNS, FOCUS_VERSION, Issuer, focus_lines
from llmusage.reports.params import parse_month
from llmusage.reports.prices import fitted_prices, price_for, table_prices
from llmusage.reports.source import Freshness, freshness, lake_connection
from llmusage.sqlfiles import load

__all__ = ["CENT", "CURRENCY", "FOCUS_COLUMNS", "Statement", "chargeback", "chargeback_lines"]
FILES = ("chargeback.csv", "chargeback.parquet", "summary.md")
CENT = Decimal("0.01")


class EmptyClosedMonth(LlmusageError):
    """A closed month without spend: freezing an empty statement needs `allow_empty`."""


@dataclass
class Statement:
    month: str
    by: str
    directory: Path
    status: str  # closed | provisional
    written: bool  # False: a frozen statement was found and left as it was
    lines: int
    requests: int  # neither failed nor cache hits
    total: Decimal  # exact
    manifest: dict
    failed_requests: int = 0
    cached_requests: int = 0


def chargeback_lines(
    lake_dir: Path, month: str, by: str = "team", issuer: Issuer | None = None
) -> pl.DataFrame:
    """The month's FOCUS lines (see the module docstring), in a stable order."""
    if by not in ("team", "org"):
        raise LlmusageError(f"--by must be team or org, got {by!r}")
    start, end = parse_month(month)
    with lake_connection(lake_dir) as duck:
        raw = duck.sql(
            load("reports/chargeback_lines.sql"), params={"by": by, "start": start, "end": end}
        ).pl()
        fitted = fitted_prices(duck, start, end)
    table = table_prices(lake_dir)
    raw = raw.sort(
        ["day", "sub_account_name", "sub_account_id", "model", "provider", "user", "api_key", "tags"],
        nulls_last=True,
    )
    return focus_lines(raw, start, end, lambda m, g: price_for(m, g, table, fitted), issuer or Issuer())


def allocate_cents(amounts: list[Decimal], total: Decimal) -> list[Decimal]:
    """Round `amounts` to cents so that they add up to `total` (already in cents): largest remainder."""
    floors = [(a / CENT).to_integral_value(rounding="ROUND_FLOOR") * CENT for a in amounts]
    left = int(((total - sum(floors, Decimal(0))) / CENT).to_integral_value())
    order = sorted(range(len(amounts)), key=lambda i: (-(amounts[i] - floors[i]), i))
    for i in order[: max(left, 0)]:
        floors[i] += CENT
    return floors


def _count(lines: pl.DataFrame, column: str) -> str:
    return f"{int(lines[column].sum() or 0):,}"


def summary_markdown(lines: pl.DataFrame, month: str, by: str, status: str, fresh: Freshness) -> str:
    exact = sum(lines["BilledCost"].to_list(), Decimal(0))
    total = exact.quantize(CENT, rounding=ROUND_HALF_EVEN)
    accounts = (
        lines.with_columns(
            pl.col("SubAccountName").fill_null(f"(no {'team' if by == 'team' else 'org'})"),
            pl.col("SubAccountId").fill_null(""),
        )
        .group_by("SubAccountId", "SubAccountName")
        .agg(
            pl.col(
                "BilledCost", "x_Requests", "x_FailedRequests", "x_CachedRequests", "ConsumedQuantity"
            ).sum()
        )
        .sort(["BilledCost", "SubAccountName"], descending=[True, False])
    )
    cents = allocate_cents(accounts["BilledCost"].to_list(), total)
    label = "team" if by == "team" else "organization"
    through = f"{fresh.data_through:%Y-%m-%d %H:%M} UTC" if fresh.data_through else str(fresh.last_day)
    meaning = (
        "frozen: re-runs keep these bytes; `--restate` rebuilds"
        if status == "closed"
        else "the month is not closed in the lake; rebuilt on every run until it is"
    )
    out = [
        f"# Chargeback {month} by {label}",
        "",
        f"- Status: **{status}** ({meaning})",
        f"- Billing period: {month}-01 00:00 UTC to the first of the next month (exclusive)",
        f"- Lake data through: {through}",
        f"- Lines: {lines.height:,} (UTC day x {label} x model x provider x user x key x request tags x "
        "token type), FOCUS {FOCUS_VERSION} columns with FOCUS 1.3's ServiceProviderName and HostProviderName",
        f"- Requests: {_count(lines, 'x_Requests')}, besides {_count(lines, 'x_FailedRequests')} failed and "
        f"{_count(lines, 'x_CachedRequests')} served from a cache (their cost, usually 0, is included); "
        f"tokens: {_count(lines, 'ConsumedQuantity')}",
        f"- List cost (list prices x tokens): {usd(sum(lines['ListCost'].to_list(), Decimal(0)))} {CURRENCY}",
        f"- Total BilledCost: **{usd(total)} {CURRENCY}** (exact: {exact:.12f})",
        "",
        f"| {label} | id | requests | failed | cached | tokens | billed |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row, amount in zip(accounts.iter_rows(named=True), cents, strict=True):
        out.append(
            f"| {row['SubAccountName']} | {row['SubAccountId']} | {row['x_Requests']:,} | "
            f"{row['x_FailedRequests']:,} | {row['x_CachedRequests']:,} | {row['ConsumedQuantity']:,} | "
            f"{usd(amount)} |"
        )
    out.append(f"| **total** | | | | | | **{usd(total)}** |")
    out += [
        "",
        "BilledCost in chargeback.csv / .parquet keeps 12 decimal places (exact sums of the spend logs).",
        "The amounts above are rounded to the cent by largest remainder so that they add up to the total.",
    ]
    return "\n".join(out) + "\n"


def _csv_bytes(lines: pl.DataFrame) -> bytes:
    return lines.write_csv(datetime_format="%Y-%m-%dT%H:%M:%SZ").encode()


def _parquet_bytes(lines: pl.DataFrame) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(lines.to_arrow(), buffer, compression="zstd")
    return buffer.getvalue()


def _verify(target: Path, manifest: dict) -> None:
    """A frozen statement must still be the bytes it was produced as."""
    for name, digest in manifest.get("sha256", {}).items():
        path = target / name
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise LlmusageError(
                f"frozen statement {target} was altered ({name} differs from manifest.json); "
                "--restate rebuilds it from the lake"
            )


def _is_closed(fresh: Freshness, month_end: date) -> bool:
    closes = datetime(month_end.year, month_end.month, month_end.day) + LAG_WINDOW
    return fresh.extracted_at is not None and fresh.extracted_at >= closes


def statement_dir(base: Path, month: str, by: str) -> Path:
    return base / month / by


def chargeback(
    lake_dir: Path,
    month: str,
    by: str = "team",
    out: Path | None = None,
    restate: bool = False,
    exports_dir: Path | None = None,
    allow_empty: bool = False,
) -> Statement:
    """Produce (or find, frozen) the month's statement under the base directory `out` (created when
    missing). A closed month without spend is an error unless `allow_empty`: an empty frozen statement
    is more often a missing extract than a month without traffic."""
    start, end = parse_month(month)
    month = f"{start:%Y-%m}"
    if out is not None:
        base = Path(os.path.abspath(out.expanduser()))
        if base.exists() and not base.is_dir():
            raise LlmusageError(f"--out {out} is a file, not a directory")
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LlmusageError(f"--out {out}: cannot create it ({exc.strerror})") from None
    else:
        if exports_dir is None:
            raise LlmusageError("no output directory")
        base = exports_dir / "chargeback"
        base.mkdir(parents=True, exist_ok=True)
    target = statement_dir(base, month, by)
    manifest_path = target / "manifest.json"
    if manifest_path.exists() and not restate:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("status") == "closed":
            _verify(target, manifest)
            return Statement(
                month=month,
                by=by,
                directory=target,
                status="closed",
                written=False,
                lines=manifest["lines"],
                requests=manifest["requests"],
                total=Decimal(manifest["total_exact"]),
                manifest=manifest,
                failed_requests=manifest.get("failed_requests", 0),
                cached_requests=manifest.get("cached_requests", 0),
            )
    fresh = freshness(lake_dir)
    status = "closed" if _is_closed(fresh, end) else "provisional"
    lines = chargeback_lines(lake_dir, month, by)
    if lines.height == 0 and status == "closed" and not allow_empty:
        raise EmptyClosedMonth(
            f"no spend in {month} in the lake, and the month is closed: its statement would be frozen "
            "empty (run `llmusage extract` first, or pass --allow-empty to freeze it)"
        )
    files = {
        "chargeback.csv": _csv_bytes(lines),
        "chargeback.parquet": _parquet_bytes(lines),
        "summary.md": summary_markdown(lines, month, by, status, fresh).encode(),
    }
    total = sum(lines["BilledCost"].to_list(), Decimal(0))
    requests = int(lines["x_Requests"].sum() or 0)
    failed = int(lines["x_FailedRequests"].sum() or 0)
    cached = int(lines["x_CachedRequests"].sum() or 0)
    manifest = {
        "month": month,
        "by": by,
        "status": status,
        "lines": lines.height,
        "requests": requests,
        "failed_requests": failed,
        "cached_requests": cached,
        "total_exact": f"{total:.12f}",
        "total": f"{total.quantize(CENT, rounding=ROUND_HALF_EVEN)}",
        "currency": CURRENCY,
        "focus_version": FOCUS_VERSION,
        "data_through": fresh.data_through.isoformat() if fresh.data_through else None,
        "produced_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = aside_path(target)
    old = target.with_name(f".{by}.{os.getpid()}.old")
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir()
    try:
        for name, data in files.items():
            (aside / name).write_bytes(data)
        (aside / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():
            os.replace(target, old)
        os.replace(aside, target)
    finally:
        shutil.rmtree(aside, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return Statement(month, by, target, status, True, lines.height, requests, total, manifest, failed, cached)
