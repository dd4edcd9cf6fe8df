"""LiteLLM's daily spend tables against the spend logs: every disagreement, with its cause.

LiteLLM (1.110) keeps one row per entity, UTC day of `"startTime"` (`date`, text), key, model, provider, MCP
tool and endpoint in `LiteLLM_DailyUserSpend`, `…TeamSpend`, `…OrganizationSpend`, `…EndUserSpend` and
`…TagSpend`, written at request time (`proxy/db/daily_spend_bulk_upsert.py`); its Usage pages read them, and
its users find that they disagree with the logs (LiteLLM issues #37144, #10876, #32581).
`reconcile_daily_tables(url, lake_dir)` compares each table, day by day, with the logs charged the way the
table charges them, and splits every difference into causes:

| cause | what it is | spend | requests |
| --- | --- | --- | --- |
| `retention` | logs that LiteLLM's retention job deleted after their spend went into the daily row: on every day before the oldest log kept anywhere (lake or database), and on that day (its earlier part) | what the rest does not explain, never below 0 | same |
| `tag_fan_out` | a request with N tags adds its full spend and one request to each of N tag rows (LiteLLM #21894); tag table only | spend × (N − 1) of the logs | N − 1 per log, and per unlogged failure |
| `unlogged_failures` | failed requests while `disable_error_logs` was on: counted in `failed_requests` and `api_requests`, no log; days after the oldest log's | 0 (failures cost nothing) | the table's failed requests beyond the failed logs (`status != 'success'`) |
| `current_day` | the as-of instant's UTC day (and any later): rows and logs are still being written, so what is left is shown, not judged | leftover | leftover |
| `unexplained` | the rest: what makes the report fail | beyond the tolerance | any |

Which logs a table charges (as `daily_spend_entity_ids` does): the user and team tables every request (their
rows take `''` ids too), the organization and end-user tables requests that have one, the tag table each
distinct non-empty tag of a request. In the tag table, how many requests the unlogged failures were is, per
day and key, the largest count of any one tag's unlogged failures (exact when a tag is on every such request,
as a key's own tags are; else the fewest the rows allow), their other tags count as fan-out.

Where the logs come from: the lake (normalized) before its cutoff (`compute.lake_cutoff`: its newest row minus
the extract's lag window), PostgreSQL (the flavour's `SpendLogSource.range_sql`) from the cutoff on and before
the lake's first day. PostgreSQL sums the daily tables per date and its logs at a small grain, DuckDB sums
the lake (`sql/sources/litellm/daily_*.sql`, `sql/reconcile/duckdb/daily_*.sql`); everything PostgreSQL
gives is read in one REPEATABLE READ, read-only transaction. Spend is compared with the reconciliation's
tolerance (`statuses.TOLERANCE` relative, `statuses.ABS_TOLERANCE` absolute) per table and day; requests exactly.
A database without daily tables (the llmusage flavour) is a `NotLitellmDatabase` error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
from psycopg import sql

from llmusage.errors import LlmusageError
from llmusage.lake.layout import partition_files, spend_log_partitions
from llmusage.money import usd
from llmusage.pg.connect import connect
from llmusage.reconcile.compute import lake_cutoff
from llmusage.reconcile.statuses import ABS_TOLERANCE, TOLERANCE
from llmusage.sources.detect import Flavour, detect
from llmusage.sources.spend_logs import SOURCES
from llmusage.sqlfiles import load

DAILY_TABLES = {
    "LiteLLM_DailyUserSpend": "user",
    "LiteLLM_DailyTeamSpend": "team",
    "LiteLLM_DailyOrganizationSpend": "organization",
    "LiteLLM_DailyEndUserSpend": "end user",
    "LiteLLM_DailyTagSpend": "tag",
}
"""LiteLLM's daily spend tables, in report order, with the entity each is per."""
TAG_TABLE = "LiteLLM_DailyTagSpend"
CAUSES = {
    "retention": "logs deleted by retention after their spend and request went into the daily row",
    "tag_fan_out": "a request with N tags adds its full spend and one request to each of N tag rows "
    "(BerriAI/litellm#21894)",
    "unlogged_failures": "failed requests while disable_error_logs was on: counted as failed requests, no log",
    "current_day": "the current UTC day: rows and logs are still being written (not judged)",
}
"""The causes a difference is split into, in report order (`unexplained` is what none of them explains)."""
NOT_LITELLM = "not a LiteLLM database: it has no daily spend tables"

_BEGINNING = datetime(1, 1, 1)
_END_OF_TIME = datetime(9999, 12, 31)
_GRAIN = pa.schema(
    [
        ("day", pa.date32()),
        ("api_key", pa.string()),
        ("has_organization", pa.bool_()),
        ("has_end_user", pa.bool_()),
        ("failed", pa.bool_()),
        ("tags", pa.list_(pa.string())),
        ("requests", pa.int64()),
        ("spend", pa.float64()),
    ]
)
_TOTALS = pa.schema(
    [
        ("table", pa.string()),
        ("day", pa.date32()),
        ("spend", pa.float64()),
        ("requests", pa.int64()),
        ("failed", pa.int64()),
    ]
)
_TAG_FAILURES = pa.schema(
    [("day", pa.date32()), ("api_key", pa.string()), ("tag", pa.string()), ("failed", pa.int64())]
)


class NotLitellmDatabase(LlmusageError):
    """The database has no daily spend tables to reconcile (an llmusage database, or a LiteLLM too old)."""


@dataclass(frozen=True)
class Gap:
    """A daily table's totals against the logs it charges (one day, or all of them), and the causes."""

    table: str
    daily_spend: float
    logs_spend: float
    daily_requests: int
    logs_requests: int
    spend_causes: dict[str, float]  # cause -> spend it explains (non-zero ones, CAUSES order)
    request_causes: dict[str, int]
    unexplained_spend: float  # 0.0 within the tolerance
    unexplained_requests: int
    day: date | None = None  # None for a table's total
    position: str | None = None  # before_history, history_edge, settled, current (a day's only)

    @property
    def spend_difference(self) -> float:
        return self.daily_spend - self.logs_spend

    @property
    def request_difference(self) -> int:
        return self.daily_requests - self.logs_requests

    @property
    def explained(self) -> bool:
        return self.unexplained_spend == 0.0 and self.unexplained_requests == 0

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"table": self.table}
        if self.day is not None:
            out |= {"day": self.day.isoformat(), "position": self.position}
        return out | {
            "daily_spend": self.daily_spend,
            "logs_spend": self.logs_spend,
            "spend_difference": self.spend_difference,
            "spend_causes": self.spend_causes,
            "unexplained_spend": self.unexplained_spend,
            "daily_requests": self.daily_requests,
            "logs_requests": self.logs_requests,
            "request_difference": self.request_difference,
            "request_causes": self.request_causes,
            "unexplained_requests": self.unexplained_requests,
        }


@dataclass(frozen=True)
class TableReport:
    total: Gap
    days: list[Gap]  # one per date in the table or in the logs, oldest first

    @property
    def table(self) -> str:
        return self.total.table

    def unexplained_days(self) -> list[Gap]:
        return [d for d in self.days if not d.explained]

    @property
    def explained(self) -> bool:
        """Every day explained (a table's total could net out days that are not)."""
        return not self.unexplained_days()


@dataclass
class DailyTablesReport:
    tables: list[TableReport]  # the daily tables the database has, in DAILY_TABLES order
    as_of: datetime  # naive UTC: its day and later ones are `current_day`
    history_day: date | None  # the UTC day of the oldest log kept anywhere (None: no log at all)
    lake_cutoff: datetime | None  # the lake's logs before it, PostgreSQL's from it on
    missing_tables: list[str] = field(default_factory=list)  # daily tables this LiteLLM has not

    @property
    def explained(self) -> bool:
        return all(t.explained for t in self.tables)

    def table(self, name: str) -> TableReport:
        return next(t for t in self.tables if t.table == name)

    def unexplained_days(self) -> list[Gap]:
        return [d for t in self.tables for d in t.unexplained_days()]

    def to_json(self, days: bool = True) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(),
            "history_day": self.history_day.isoformat() if self.history_day else None,
            "lake_cutoff": self.lake_cutoff.isoformat() if self.lake_cutoff else None,
            "explained": self.explained,
            "causes": CAUSES,
            "missing_tables": self.missing_tables,
            "tables": [
                t.total.to_json() | ({"days": [d.to_json() for d in t.days]} if days else {})
                for t in self.tables
            ],
        }

    def to_markdown(self) -> str:
        """The per-table differences and causes as a Markdown table (Dagster metadata)."""
        lines = [
            "| table | daily spend | logs spend | difference | causes | unexplained | daily requests "
            "| logs requests | difference | causes | unexplained |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for t in self.tables:
            g = t.total
            lines.append(
                f"| {g.table} | {usd(g.daily_spend, 4)} | {usd(g.logs_spend, 4)} | {usd(g.spend_difference, 4)} "
                f"| {describe_causes(g.spend_causes, money=True)} | {usd(g.unexplained_spend, 4)} "
                f"| {g.daily_requests:,} | {g.logs_requests:,} | {g.request_difference:,} "
                f"| {describe_causes(g.request_causes)} | {g.unexplained_requests:,} |"
            )
        return "\n".join(lines)


def describe_causes(causes: dict[str, float] | dict[str, int], money: bool = False) -> str:
    """`retention $1.20, tag_fan_out $0.40` (or request counts); `-` when there is none."""
    if not causes:
        return "-"
    return ", ".join(f"{k} {usd(v, 4)}" if money else f"{k} {v:,}" for k, v in causes.items())


def reconcile_daily_tables(url: str, lake_dir: Path, as_of: datetime | None = None) -> DailyTablesReport:
    """Every daily table against the logs (see the module docstring). `as_of` (naive UTC) defaults to the
    database's clock; its UTC day and later ones are `current_day`."""
    partitions = spend_log_partitions(lake_dir)
    cutoff = lake_cutoff(lake_dir, partitions)
    with connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            present, missing = _daily_tables(conn)
            clock = conn.execute("SELECT (now() AT TIME ZONE 'UTC')").fetchone()
            as_of = as_of or (clock[0] if clock else datetime.utcnow())
            totals = _totals(conn, present)
            tag_failures = _rows(
                conn.execute(load("sources/litellm/daily_tag_failures.sql")).fetchall()
                if TAG_TABLE in present
                else [],
                _TAG_FAILURES,
            )
            pg_grain = _pg_grain(conn, _pg_ranges(partitions, cutoff))
    with duckdb.connect() as duck:
        duck.execute("SET TimeZone = 'UTC'")
        duck.execute("SET enable_progress_bar = false")
        duck.register("daily_totals", totals)
        duck.register("daily_tag_failures", tag_failures)
        duck.register("daily_pg_grain", pg_grain)
        duck.register(
            "daily_present", pa.table({"table": present}, schema=pa.schema([("table", pa.string())]))
        )
        duck.register(
            "daily_bounds",
            pa.table(
                {"cutoff": [cutoff or _BEGINNING], "current_day": [as_of.date()]},
                schema=pa.schema([("cutoff", pa.timestamp("us")), ("current_day", pa.date32())]),
            ),
        )
        files = [
            str(f)
            for day in sorted(partitions)
            if cutoff and day <= cutoff.date()
            for f in partition_files(lake_dir, day)
        ]
        if files:
            duck.read_parquet(files, hive_partitioning=True, union_by_name=True).create_view(
                "daily_lake_files"
            )
            duck.execute(load("reconcile/duckdb/daily_lake_grain.sql"))
        else:
            duck.register("daily_lake_grain", _rows([], _GRAIN))
        duck.execute(load("reconcile/duckdb/daily_log_grain.sql"))
        duck.execute(load("reconcile/duckdb/daily_logs_per_table.sql"))
        duck.execute(load("reconcile/duckdb/daily_tag_unlogged.sql"))
        relation = duck.sql(load("reconcile/duckdb/daily_compare.sql"))
        columns, compared = relation.columns, relation.fetchall()
    rows = [dict(zip(columns, r, strict=True)) for r in compared]
    history = rows[0]["history_day"] if rows else None
    return DailyTablesReport(
        tables=[_table_report(name, [r for r in rows if r["table"] == name]) for name in present],
        as_of=as_of,
        history_day=history,
        lake_cutoff=cutoff,
        missing_tables=missing,
    )


def _daily_tables(conn: psycopg.Connection) -> tuple[list[str], list[str]]:
    """The daily tables the database has and has not; NotLitellmDatabase when it is not LiteLLM's or has none."""
    found = detect(conn)
    if found.flavour is not Flavour.LITELLM:
        raise NotLitellmDatabase(NOT_LITELLM)
    rows = conn.execute(load("sources/litellm/daily_spend_tables.sql"), {"tables": list(DAILY_TABLES)})
    have = {r[0] for r in rows}
    if not have:
        raise NotLitellmDatabase(f"this LiteLLM database ({found.describe()}) has no daily spend tables")
    return [t for t in DAILY_TABLES if t in have], [t for t in DAILY_TABLES if t not in have]


def _totals(conn: psycopg.Connection, tables: list[str]) -> pa.Table:
    template = sql.SQL(load("sources/litellm/daily_spend_totals.sql"))
    rows = [
        (table, *row)
        for table in tables
        for row in conn.execute(template.format(table=sql.Identifier(table))).fetchall()
    ]
    return _rows(rows, _TOTALS)


def _pg_ranges(partitions: dict[date, Path], cutoff: datetime | None) -> list[tuple[datetime, datetime]]:
    """The event time ranges read from PostgreSQL: all of it without a lake, else before the lake's first day
    and from its cutoff on."""
    if not partitions or cutoff is None:
        return [(_BEGINNING, _END_OF_TIME)]
    return [(_BEGINNING, datetime.combine(min(partitions), time())), (cutoff, _END_OF_TIME)]


def _pg_grain(conn: psycopg.Connection, ranges: list[tuple[datetime, datetime]]) -> pa.Table:
    source = SOURCES[Flavour.LITELLM]
    template = sql.SQL(load("sources/litellm/daily_logs_grain.sql"))
    rows = [
        row
        for since, until in ranges
        if since < until
        for row in conn.execute(template.format(logs=source.range_sql(since, until))).fetchall()
    ]
    return _rows(rows, _GRAIN)


def _rows(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns: list[tuple] = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


def _slack(*amounts: float) -> float:
    return ABS_TOLERANCE + TOLERANCE * max([1.0, *(abs(a) for a in amounts)])


def _day_gap(row: dict) -> Gap:
    slack = _slack(row["daily_spend"], row["logs_spend"])
    spend = {c: float(row[f"{c}_spend"]) for c in CAUSES if f"{c}_spend" in row}
    requests = {c: int(row[f"{c}_requests"]) for c in CAUSES}
    unexplained = float(row["unexplained_spend"])
    return Gap(
        table=row["table"],
        day=row["day"],
        position=row["position"],
        daily_spend=float(row["daily_spend"]),
        logs_spend=float(row["logs_spend"]),
        daily_requests=int(row["daily_requests"]),
        logs_requests=int(row["logs_requests"]),
        spend_causes={c: v for c, v in spend.items() if abs(v) > slack},
        request_causes={c: v for c, v in requests.items() if v},
        unexplained_spend=unexplained if abs(unexplained) > slack else 0.0,
        unexplained_requests=int(row["unexplained_requests"]),
    )


def _table_report(table: str, rows: list[dict]) -> TableReport:
    days = [_day_gap(r) for r in rows]
    spend: dict[str, float] = {}
    requests: dict[str, int] = {}
    for d in days:
        for cause, amount in d.spend_causes.items():
            spend[cause] = spend.get(cause, 0.0) + amount
        for cause, count in d.request_causes.items():
            requests[cause] = requests.get(cause, 0) + count
    total = Gap(
        table=table,
        daily_spend=sum(d.daily_spend for d in days),
        logs_spend=sum(d.logs_spend for d in days),
        daily_requests=sum(d.daily_requests for d in days),
        logs_requests=sum(d.logs_requests for d in days),
        spend_causes={c: spend[c] for c in CAUSES if c in spend},
        request_causes={c: requests[c] for c in CAUSES if requests.get(c)},
        unexplained_spend=sum(d.unexplained_spend for d in days),
        unexplained_requests=sum(d.unexplained_requests for d in days),
    )
    return TableReport(total=total, days=days)
