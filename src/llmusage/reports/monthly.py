"""The month's chargeback run as the schedule makes it: a statement by team and one by organization,
and `YYYY-MM/summary.md` over both.

Both statements bill the same logs (a team's and an organization's view of one month), so their totals
agree to the picodollar; the summary says so, with each statement's status, lines and total (rounded to
the cent once from the exact sum) and where its files are. Totals leave as decimal strings, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN
from pathlib import Path

from llmusage.lake.layout import aside_path
from llmusage.reports.chargeback import CENT, CURRENCY, Statement, chargeback

BY = ("team", "org")


@dataclass
class MonthlyRun:
    month: str
    statements: dict[str, Statement]
    summary: Path

    def total(self, by: str = "team") -> str:
        """The statement's total in cents, as a decimal string (`"524.89"`)."""
        return f"{self.statements[by].total.quantize(CENT, rounding=ROUND_HALF_EVEN)}"

    def total_exact(self, by: str = "team") -> str:
        return f"{self.statements[by].total:.12f}"


def monthly_summary(month: str, statements: dict[str, Statement]) -> str:
    label = {"team": "teams", "org": "organizations"}
    lines = [
        f"# Chargeback {month}",
        "",
        f"| by | status | lines | requests | total ({CURRENCY}) | exact | statement |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for by, s in statements.items():
        total = s.total.quantize(CENT, rounding=ROUND_HALF_EVEN)
        lines.append(
            f"| {label[by]} | {s.status} | {s.lines:,} | {s.requests:,} | {total} | {s.total:.12f} | "
            f"`{by}/` |"
        )
    totals = {s.total for s in statements.values()}
    agree = "agree exactly" if len(totals) == 1 else "DIFFER (a bug: they bill the same logs)"
    lines += ["", f"The statements by team and by organization bill the same logs: their totals {agree}."]
    return "\n".join(lines) + "\n"


def monthly_statements(
    lake_dir: Path, month: str, exports_dir: Path, allow_empty: bool = False
) -> MonthlyRun:
    """Write (or find, frozen) the month's statements by team and by organization, then the summary."""
    statements = {
        by: chargeback(lake_dir, month, by, exports_dir=exports_dir, allow_empty=allow_empty) for by in BY
    }
    month = statements["team"].month
    summary = exports_dir / "chargeback" / month / "summary.md"
    aside = aside_path(summary)
    aside.write_text(monthly_summary(month, statements))
    aside.replace(summary)
    return MonthlyRun(month, statements, summary)
