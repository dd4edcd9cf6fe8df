"""`llmusage seed --flavour litellm`: a LiteLLM-flavour database filled as LiteLLM 1.110 fills it.

On an empty database it first builds LiteLLM's schema from LiteLLM's own migrations
(`devtools.litellm_schema`); on a LiteLLM database it fills the tables the seed owns when they are empty,
and empties them first with `--reset`; it never touches an llmusage-flavour database.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from llmusage.config import Settings
from llmusage.errors import LlmusageError
from llmusage.money import usd


def run_litellm_seed(now: datetime | None, logs: int, seed: int, reset: bool) -> None:
    from llmusage.devtools.litellm_schema import create_litellm_schema
    from llmusage.devtools.seed.litellm import seed_litellm
    from llmusage.devtools.seed.litellm.load import empty_tables, row_counts
    from llmusage.pg.connect import connect, resolve_url
    from llmusage.sources.detect import Flavour, detect

    url = resolve_url(Settings.from_env())
    as_of = now or datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    with connect(url, autocommit=True) as conn:
        found = detect(conn)
        if found.flavour is Flavour.LLMUSAGE:
            raise LlmusageError(
                "this is an llmusage-flavour database: `seed --flavour litellm` needs an empty database or a "
                "LiteLLM one (point LLMUSAGE_DATABASE_URL at another database)"
            )
        if found.flavour is Flavour.EMPTY:
            applied = create_litellm_schema(conn)
            click.echo(f"built LiteLLM's schema ({applied} Prisma migrations)")
        else:
            held = {t: n for t, n in row_counts(conn).items() if n}
            if held and not reset:
                listing = ", ".join(f"{t} {n:,}" for t, n in held.items())
                raise LlmusageError(
                    f"the LiteLLM database already holds data ({listing}); pass --reset to replace those tables' rows"
                )
            if held:
                with conn.transaction():
                    empty_tables(conn)
        scenario = seed_litellm(conn, now=as_of, scale=logs, seed=seed)
        counts = row_counts(conn)
        span = conn.execute('SELECT min("startTime"), max("startTime") FROM "LiteLLM_SpendLogs"').fetchone()
    _print_summary(scenario, counts, span)


def _print_summary(scenario: object, counts: dict[str, int], span: tuple[object, ...] | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from llmusage.devtools.seed.litellm import LitellmScenario

    assert isinstance(scenario, LitellmScenario)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    rows = Table(title="rows per table", show_header=True)
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for table, count in counts.items():
        rows.add_row(table, f"{count:,}")
    console.print(rows)
    first, last = span if span else (None, None)
    dates = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first and last else "no logs"  # type: ignore[str-format]
    console.print(
        f"as of {scenario.now:%Y-%m-%d %H:%M} UTC: {usd(scenario.spend)} over {scenario.logs:,} spend logs "
        f"({dates}); {scenario.deleted_logs:,} older logs deleted by retention; seeded in {scenario.seconds:.1f}s"
    )
    cases = Table(
        title=f"budgeted entities: {len(scenario.verdicts)}, LiteLLM refuses {len(scenario.refusing)}"
    )
    for column in ("case", "entity", "spend", "max_budget", "status", "LiteLLM refuses"):
        cases.add_column(column, justify="right" if column in ("spend", "max_budget") else "left")
    for v in scenario.verdicts:
        if v.case is None:
            continue
        limit = usd(v.max_budget)
        cases.add_row(v.case, f"{v.kind} {v.name}", usd(v.recorded_spend), limit, v.expected_status,
                      "yes" if v.litellm_refuses else "no")  # fmt: skip
    console.print(cases)
