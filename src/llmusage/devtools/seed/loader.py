"""Writing a synthetic organization and its traffic to PostgreSQL, atomically and fast.

One transaction: entities with executemany, spend logs through `COPY ... FROM STDIN (FORMAT csv)` fed
by a generator thread (numpy and polars release the GIL, so drawing the next chunk overlaps sending the
last one), then the spend columns, budgets and, if asked, the anomalies reconciliation must find. Large
loads drop the secondary indexes of the spend log table and rebuild them after the copy, which is
several times faster than maintaining them row by row.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import LiteralString

import numpy as np
import polars as pl
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from llmusage.devtools.seed.accounts import Anomaly, entity_spend, plant_anomalies, set_budgets, write_spend
from llmusage.devtools.seed.org import Organization, build_org
from llmusage.devtools.seed.traffic import LOG_COLUMNS, LogGenerator, Window
from llmusage.errors import LlmusageError
from llmusage.pg import migrations
from llmusage.pg.status import TABLES

SPEND_LOG_INDEXES: dict[LiteralString, LiteralString] = {
    "idx_spendlogs_api_key": '"api_key"',
    "idx_spendlogs_created_at": '"created_at"',
    "idx_spendlogs_user": '"user"',
    "idx_spendlogs_team_id": '"team_id"',
}
PRIMARY_KEY: LiteralString = "LiteLLM_SpendLogs_pkey"
BULK_THRESHOLD = 1_000_000  # rows from which indexes are rebuilt after the copy instead of maintained
MAX_LOGS = 1_000_000_000
MAX_DAYS = 3650


@dataclass(frozen=True)
class SeedOptions:
    logs: int = 100_000
    days: int = 30
    seed: int = 42
    anomalies: bool = False
    end: datetime | None = None  # exclusive, naive UTC; default: now, truncated to the hour
    reset: bool = False
    chunk_size: int = 200_000

    def validate(self) -> None:
        if not 0 <= self.logs <= MAX_LOGS:
            raise LlmusageError(f"--logs must be between 0 and {MAX_LOGS:,}, got {self.logs}")
        if not 1 <= self.days <= MAX_DAYS:
            raise LlmusageError(f"--days must be between 1 and {MAX_DAYS}, got {self.days}")
        if self.seed < 0:
            raise LlmusageError(f"--seed must be a non-negative integer, got {self.seed}")

    def window(self) -> Window:
        end = self.end or datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
        end = end.replace(minute=0, second=0, microsecond=0) if end.minute or end.second else end
        if end.hour == 0:  # a whole last day: the window covers `days` whole days
            start = end - timedelta(days=self.days)
        else:  # the last day is today, up to `end`: the window still touches `days` calendar days
            start = datetime.combine(end.date(), datetime.min.time()) - timedelta(days=self.days - 1)
        return Window(start=start, end=end)


@dataclass
class SeedReport:
    options: SeedOptions
    window: Window
    counts: dict[str, int]
    total_spend: float
    anomalies: list[Anomaly]
    keys: dict[str, str]  # alias -> raw sk- key, for demos and tests (never written anywhere)
    seconds: float  # the whole seed, entities to indexes
    copy_seconds: float  # the spend logs alone: COPY and index builds

    @property
    def logs_per_second(self) -> float:
        return self.options.logs / self.seconds if self.seconds > 0 else float("inf")


def end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time())


def seed(
    conn: psycopg.Connection,
    options: SeedOptions,
    progress: Callable[[int], None] | None = None,
    connect: Callable[[], psycopg.Connection] | None = None,
) -> SeedReport:
    """Seed the database behind `conn` in one transaction.

    With `connect` (a factory of extra connections to the same database), a bulk load commits without
    the spend log table's indexes and then builds them two at a time on separate connections, using
    both cores; without it, indexes are built inside the one transaction.
    """
    options.validate()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("seed() needs a connection with no transaction open")
    started = time.perf_counter()
    window = options.window()
    org = build_org(options.seed, window.start, window.end)
    rng = np.random.default_rng([options.seed, 3])

    with conn.transaction():
        migrations.check_current(conn)
        existing = conn.execute('SELECT count(*) FROM "LiteLLM_SpendLogs"').fetchone()
        keys_there = conn.execute('SELECT count(*) FROM "LiteLLM_VerificationToken"').fetchone()
        if ((existing and existing[0]) or (keys_there and keys_there[0])) and not options.reset:
            raise LlmusageError(
                f"the database already holds data ({existing[0] if existing else 0:,} spend logs); "
                "pass --reset to replace it"
            )
        # Truncating even an empty log table lets a server with wal_level=minimal skip WAL for the COPY.
        truncate = (*TABLES, *_derived_tables(conn)) if options.reset else ("LiteLLM_SpendLogs",)
        names = sql.SQL(", ").join(sql.Identifier(*t.split(".")) for t in truncate)
        conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(names))
        _insert_entities(conn, org)
        copy_started = time.perf_counter()
        deferred = connect is not None and options.logs >= BULK_THRESHOLD
        key_spend = _copy_logs(conn, org, window, options, rng, progress, deferred)
        copy_seconds = time.perf_counter() - copy_started
        spend = entity_spend(org, key_spend)
        write_spend(conn, spend)
        set_budgets(conn, org, spend, rng)
        anomalies = plant_anomalies(conn, org, spend, window, options.logs, rng) if options.anomalies else []
    if deferred:
        assert connect is not None
        index_started = time.perf_counter()
        _build_indexes_in_parallel(connect)
        copy_seconds += time.perf_counter() - index_started

    counts = {
        "LiteLLM_OrganizationTable": len(org.orgs),
        "LiteLLM_TeamTable": len(org.teams),
        "LiteLLM_UserTable": len(org.users),
        "LiteLLM_VerificationToken": len(org.keys) - sum(a.kind == "deleted_key" for a in anomalies),
        "LiteLLM_ProxyModelTable": len(org.models),
        "LiteLLM_SpendLogs": options.logs,
    }
    return SeedReport(
        options=options,
        window=window,
        counts=counts,
        total_spend=float(sum(key_spend.values())),
        anomalies=anomalies,
        keys={k.alias: k.raw for k in org.keys},
        seconds=time.perf_counter() - started,
        copy_seconds=copy_seconds,
    )


def _derived_tables(conn: psycopg.Connection) -> tuple[str, ...]:
    """Tables that describe the data a reset replaces (reconciliation's statuses and events)."""
    names = ("llmusage.budget_status", "llmusage.budget_events")
    return tuple(n for n in names if _table_exists(conn, n))


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
    return row is not None and row[0] is not None


def _insert_entities(conn: psycopg.Connection, org: Organization) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            'INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias, metadata) '
            "VALUES (%s, %s, %s)",
            [(o.organization_id, o.alias, Jsonb({})) for o in org.orgs],
        )
        cur.executemany(
            'INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id, admins, members, models, '
            "blocked, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    t.team_id,
                    t.alias,
                    t.organization_id,
                    t.admins,
                    t.members,
                    t.models,
                    t.blocked,
                    Jsonb({"blocked_reason": "blocked by an admin"} if t.blocked else {}),
                )
                for t in org.teams
            ],
        )
        cur.executemany(
            'INSERT INTO "LiteLLM_UserTable" (user_id, user_email, user_role, teams, organization_id, '
            "user_metadata) VALUES (%s, %s, %s, %s, %s, %s)",
            [(u.user_id, u.email, u.role, u.teams, u.organization_id, Jsonb({})) for u in org.users],
        )
        cur.executemany(
            'INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, user_id, team_id, models, '
            "metadata, expires) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    k.token,
                    k.key_name,
                    k.alias,
                    k.user_id,
                    k.team_id,
                    k.models,
                    Jsonb({"env": k.env, "app": k.app, "tags": [f"env:{k.env}", f"app:{k.app}"]}),
                    k.expires,
                )
                for k in org.keys
            ],
        )
        cur.executemany(
            'INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info) '
            "VALUES (%s, %s, %s, %s)",
            [
                (
                    m.model_id,
                    m.model_name,
                    Jsonb(
                        {
                            "model": f"{m.provider}/{m.upstream}",
                            "api_base": m.api_base,
                            "api_key": f"os.environ/{m.env_var}",
                        }
                    ),
                    Jsonb(
                        {
                            "mode": m.kind,
                            "input_cost_per_token": m.input_cost,
                            "output_cost_per_token": m.output_cost,
                        }
                    ),
                )
                for m in org.models
            ],
        )


def _copy_logs(
    conn: psycopg.Connection,
    org: Organization,
    window: Window,
    options: SeedOptions,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None,
    deferred: bool,
) -> dict[str, float]:
    """COPY the logs; return the spend per key token. `deferred`: leave every index to the caller."""
    generator = LogGenerator(org, window, options.seed)
    bulk = options.logs >= BULK_THRESHOLD
    if deferred:
        conn.execute(f'ALTER TABLE "LiteLLM_SpendLogs" DROP CONSTRAINT "{PRIMARY_KEY}"')
    if bulk:
        for name in SPEND_LOG_INDEXES:
            conn.execute(f'DROP INDEX IF EXISTS "{name}"')

    late = max(10, options.logs // 1000) if options.anomalies and options.logs >= 100 else 0
    chunks: queue.Queue[tuple[bytes, pl.DataFrame] | BaseException | None] = queue.Queue(maxsize=3)

    def produce() -> None:
        try:
            produced = 0
            for frame in generator.chunks(options.logs, options.chunk_size):
                produced += frame.height
                if late and produced > options.logs - late:
                    first_late = max(0, (options.logs - late) - (produced - frame.height))
                    frame = _make_late(frame, first_late, window, rng)
                buf = io.BytesIO()
                frame.write_csv(
                    buf, include_header=False, null_value="", datetime_format="%Y-%m-%d %H:%M:%S%.6f"
                )
                chunks.put((buf.getvalue(), frame.select("api_key", "spend")))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            chunks.put(exc)
            return
        chunks.put(None)

    worker = threading.Thread(target=produce, name="seed-generator", daemon=True)
    worker.start()
    per_key: list[pl.DataFrame] = []
    columns = ", ".join(f'"{c}"' for c in LOG_COLUMNS)
    with (
        conn.cursor() as cur,
        cur.copy(f'COPY "LiteLLM_SpendLogs" ({columns}) FROM STDIN (FORMAT csv)') as copy,
    ):
        while True:
            item = chunks.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            data, spend = item
            copy.write(data)
            per_key.append(spend.group_by("api_key").agg(pl.col("spend").sum()))
            if progress:
                progress(spend.height)
    worker.join()
    if bulk and not deferred:
        for name, column in SPEND_LOG_INDEXES.items():
            conn.execute(f'CREATE INDEX "{name}" ON "LiteLLM_SpendLogs" ({column})')
    if not per_key:
        return {}
    totals = pl.concat(per_key).group_by("api_key", maintain_order=True).agg(pl.col("spend").sum())
    return dict(zip(totals["api_key"].to_list(), totals["spend"].to_list(), strict=True))


def _build_indexes_in_parallel(connect: Callable[[], psycopg.Connection]) -> None:
    """Build the spend log table's primary key and indexes on two connections at once (SHARE locks
    do not conflict), then attach the unique index as the primary key."""
    statements: list[LiteralString] = [
        f'CREATE UNIQUE INDEX "{PRIMARY_KEY}" ON "LiteLLM_SpendLogs" ("request_id")'
    ]
    statements += [f'CREATE INDEX "{n}" ON "LiteLLM_SpendLogs" ({c})' for n, c in SPEND_LOG_INDEXES.items()]
    lanes = [statements[0::2], statements[1::2]]
    failures: list[BaseException] = []

    def run(lane: list[LiteralString]) -> None:
        try:
            with connect() as conn:
                conn.autocommit = True
                for statement in lane:
                    conn.execute(statement)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(lane,), name="seed-index") for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise LlmusageError(f"building the spend log indexes failed: {failures[0]}") from failures[0]
    with connect() as conn:
        conn.execute(
            f'ALTER TABLE "LiteLLM_SpendLogs" ADD CONSTRAINT "{PRIMARY_KEY}" PRIMARY KEY USING INDEX "{PRIMARY_KEY}"'
        )


def _make_late(
    frame: pl.DataFrame, first_late: int, window: Window, rng: np.random.Generator
) -> pl.DataFrame:
    """Rows from `first_late` on are late: created in the two hours before the window's end, written last."""
    n_late = frame.height - first_late
    offsets_us = rng.integers(5 * 60_000_000, 110 * 60_000_000, n_late)
    end_us = (window.end - datetime(1970, 1, 1)) // timedelta(microseconds=1)
    late_ts = pl.Series("late", end_us - np.sort(offsets_us)[::-1]).cast(pl.Datetime("us"))
    created = pl.concat([frame["created_at"].head(first_late), late_ts])
    return frame.with_columns(created_at=created)
