"""Extraction benchmark: `llmusage extract` to Parquet against psql, ADBC, DuckDB and ConnectorX to Arrow.

Run from the repository root with the project's venv:

    .venv/bin/python bench/extract/run.py [--flavour llmusage|litellm] [--rows 2000000] [--days 30] [--stop]

It seeds N spend logs into the embedded PostgreSQL under bench/.home (skipped when the database already
holds them from this script): the llmusage flavour in the database `llmusage` (`llmusage seed`), the
LiteLLM flavour in `llmusage_bench_litellm` on the same server (`llmusage seed --flavour litellm`, which
builds LiteLLM's schema from LiteLLM's own migrations; about N logs survive its retention). It makes two
venvs for the peers (bench/.venv-peers: ADBC and ConnectorX; bench/.venv-duckdb: duckdb 1.4.4 with
duckdb-ext-postgres), then times each contender in a process of its own under /usr/bin/time (wall time,
peak RSS), and prints one table with the ratios. Every contender sends the same query: the flavour's
normalized range query (sql/sources/<flavour>/spend_logs_range.sql, without payload) over the whole
table, so PostgreSQL does the same work for each; llmusage splits it in day ranges over its 2 connections.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib.util import find_spec
from pathlib import Path

from llmusage.pg.connect import with_database

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
HOME = BENCH / ".home"
LLMUSAGE = [sys.executable, "-m", "llmusage"]  # this venv's llmusage (and a worktree's, with PYTHONPATH)
PEERS = BENCH / ".venv-peers"
DUCK = BENCH / ".venv-duckdb"
END = "2026-11-20"
LITELLM_DATABASE = "llmusage_bench_litellm"
RAW_COLUMNS = (
    'request_id, api_key, model, api_provider, total_tokens, prompt_tokens, completion_tokens, spend, "user", '
    "team_id, metadata, created_at"
)
RAW_QUERY = (
    f'SELECT {RAW_COLUMNS} FROM "LiteLLM_SpendLogs"'  # what the peers read before the normalized model
)


@dataclass(frozen=True)
class Flavour:
    name: str
    database: str
    event_time: str  # the raw event time column (quoted)
    event_index: str  # its index, for --order time
    seed_args: list[str]


FLAVOURS = {
    "llmusage": Flavour("llmusage", "llmusage", "created_at", "idx_spendlogs_created_at", []),
    "litellm": Flavour(
        "litellm",
        LITELLM_DATABASE,
        '"startTime"',
        '"LiteLLM_SpendLogs_startTime_idx"',
        ["--flavour", "litellm"],
    ),
}

ADBC = """
import sys, adbc_driver_postgresql.dbapi as d
with d.connect(sys.argv[1]) as c, c.cursor() as cur:
    cur.execute(sys.argv[2]); t = cur.fetch_arrow_table()
print(t.num_rows)
"""
CONNECTORX = """
import sys, connectorx as cx
print(cx.read_sql(sys.argv[1], sys.argv[2], return_type="arrow").num_rows)
"""
DUCKDB = """
import sys, pathlib, duckdb, duckdb_ext
ext = pathlib.Path(duckdb_ext.__path__[0]) / "extensions"
con = duckdb.connect()
con.execute(f"SET extension_directory = '{ext}'")
con.execute("LOAD postgres_scanner")
con.execute(f"ATTACH '{sys.argv[1]}' AS pg (TYPE postgres, READ_ONLY)")
query = sys.argv[2].replace("'", "''")  # run by PostgreSQL, as the other contenders' query is
print(con.sql(f"SELECT * FROM postgres_query('pg', '{query}')").fetch_arrow_table().num_rows)
"""


def sh(*args: str, env: dict[str, str] | None = None, capture: bool = True) -> str:
    done = subprocess.run(args, env=env, capture_output=capture, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stderr if capture else ''}")
    return done.stdout if capture else ""


def ensure_venv(path: Path, packages: list[str]) -> Path:
    python = path / "bin" / "python"
    stamp = path / ".bench-installed"
    if not stamp.exists():
        print(f"installing {' '.join(packages)} into {path.relative_to(ROOT)}", flush=True)
        sh(sys.executable, "-m", "venv", str(path))
        sh(str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages)
        stamp.touch()
    return python


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float | None  # wall time; None: the run failed
    rss_mb: float | None  # peak RSS
    out: str  # what the run printed


def timed(name: str, argv: list[str], env: dict[str, str], repeat: int = 1) -> Timing:
    """The best of `repeat` runs (wall time), with that run's peak RSS."""
    runs = [timed_once(name, argv, env) for _ in range(repeat)]
    ok = [r for r in runs if r.seconds is not None]
    return min(ok, key=lambda r: r.seconds or 0.0) if ok else runs[0]


def timed_once(name: str, argv: list[str], env: dict[str, str]) -> Timing:
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        done = subprocess.run(
            ["/usr/bin/time", "-o", out.name, "-f", "%e %M", *argv],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"{name} failed: {done.stderr.strip()[-400:]}", flush=True)
            return Timing(name, None, None, "")
        seconds, rss_kb = out.read().split()[-2:]
    return Timing(name, float(seconds), int(rss_kb) / 1024, done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--flavour", choices=sorted(FLAVOURS), default="llmusage")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=30, help="days of traffic (llmusage flavour)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the fastest counts")
    parser.add_argument("--stop", action="store_true", help="stop the embedded server at the end")
    parser.add_argument(
        "--order",
        choices=["seeded", "time"],
        default="seeded",
        help="physical row order: as the seed writes it, or CLUSTERed by event time as a table that is "
        "appended to in real time is",
    )
    args = parser.parse_args()
    if not 1 <= args.rows <= 10_000_000:
        sys.exit("--rows must be between 1 and 10,000,000")
    flavour = FLAVOURS[args.flavour]

    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    env["LLMUSAGE_HOME"] = str(HOME)
    peers_py = ensure_venv(PEERS, ["adbc-driver-postgresql", "connectorx", "pyarrow"])
    duck_py = ensure_venv(DUCK, ["duckdb==1.4.4", "duckdb-ext-postgres", "pyarrow"])

    server = sh(*LLMUSAGE, "db", "url", env=env).strip()
    socket_dir = server.split("host=")[1].split("&")[0]
    url = with_database(server, flavour.database)
    env["LLMUSAGE_DATABASE_URL"] = url
    psql = Path(next(iter(find_spec("pgserver").submodule_search_locations))) / "pginstall/bin/psql"  # type: ignore[union-attr, arg-type]
    server_psql = [str(psql), "-X", "-q", "-h", socket_dir, "-U", "postgres", "-At"]
    base = [*server_psql, "-d", flavour.database]
    if flavour.name == "litellm":
        exists = sh(
            *server_psql,
            "-d",
            "postgres",
            "-c",
            f"SELECT 1 FROM pg_database WHERE datname = '{flavour.database}'",
        )
        if not exists.strip():
            sh(*server_psql, "-d", "postgres", "-c", f"CREATE DATABASE {flavour.database}")
    if flavour.name == "llmusage":
        sh(*LLMUSAGE, "db", "migrate", env=env)
    marker = HOME / f".bench-seeded-{flavour.name}"
    wanted = f"--logs {args.rows} --days {args.days} --seed 7 --end {END}"
    seeded = marker.exists() and marker.read_text() == wanted and spend_log_count(base) > 0
    correlation = current_correlation(base, flavour)
    if not seeded or (args.order == "seeded" and flavour.name == "llmusage" and correlation > 0.5):
        print(f"seeding {args.rows:,} logs ({flavour.name} flavour) ...", flush=True)
        sh(*LLMUSAGE, "seed", *flavour.seed_args, *wanted.split(), "--reset", env=env, capture=False)
        sh(*base, "-c", 'VACUUM ANALYZE "LiteLLM_SpendLogs"')
        marker.write_text(wanted)
    if flavour.name == "litellm":
        sh(*LLMUSAGE, "db", "migrate", env=env)  # llmusage's own schema beside LiteLLM's tables
    if args.order == "time" and current_correlation(base, flavour) < 0.9:
        print(f"clustering the spend log table by {flavour.event_time} ...", flush=True)
        sh(*base, "-c", f'CLUSTER "LiteLLM_SpendLogs" USING {flavour.event_index}')
        sh(*base, "-c", 'VACUUM ANALYZE "LiteLLM_SpendLogs"')
    correlation = current_correlation(base, flavour)
    rows = spend_log_count(base)
    query = normalized_query(url)

    cx_url = f"postgresql://postgres@localhost:5432/{flavour.database}?host={socket_dir}"
    duck_dsn = f"host={socket_dir} port=5432 dbname={flavour.database} user=postgres"
    n = args.repeat
    results = [
        timed("psql \\copy binary > /dev/null", [*base, "-c", f"\\copy ({query}) TO /dev/null WITH (FORMAT binary)"], env, n),
        timed("ADBC -> Arrow", [str(peers_py), "-c", ADBC, url, query], env, n),
        timed("DuckDB postgres -> Arrow", [str(duck_py), "-c", DUCKDB, duck_dsn, query], env, n),
        timed("ConnectorX -> Arrow", [str(peers_py), "-c", CONNECTORX, cx_url, query], env, n),
    ]  # fmt: skip
    ours = []
    for _ in range(n):  # each a full extract into an empty lake
        shutil.rmtree(HOME / "lake", ignore_errors=True)
        ours.append(timed_once("llmusage extract -> Parquet", [*LLMUSAGE, "extract"], env))
    results.append(min(ours, key=lambda r: r.seconds or float("inf")))
    extra = []
    if flavour.name == "llmusage":  # the query the peers sent before the normalized model: the joins' cost
        raw = f"\\copy ({RAW_QUERY}) TO /dev/null WITH (FORMAT binary)"
        extra.append(timed("  psql, raw columns (old query)", [*base, "-c", raw], env, n))
    extra.append(timed("  re-run, nothing new", [*LLMUSAGE, "extract"], env, n))

    # One new day: the last day's rows again, one day later, then a no-argument run.
    new_day = date.fromisoformat(
        sh(*base, "-c", f'SELECT max({flavour.event_time})::date + 1 FROM "LiteLLM_SpendLogs"').strip()
    )
    sh(*base, "-c", new_day_insert(flavour, new_day))
    try:
        extra.append(timed("  one new day", [*LLMUSAGE, "extract"], env))
    finally:
        sh(*base, "-c", "DELETE FROM \"LiteLLM_SpendLogs\" WHERE request_id LIKE 'bench-newday-%'")
        sh(*LLMUSAGE, "extract", "--date", new_day.isoformat(), env=env)  # drop the new partition again

    peers = [r for r in results[1:4] if r.seconds]
    fastest = min(peers, key=lambda r: r.seconds or 0.0) if peers else None
    fastest_s = fastest.seconds if fastest else None
    ceiling = results[0].seconds
    print()
    print(
        f"best of {n} runs each; {flavour.name} flavour, {rows:,} rows; order {args.order}, "
        f"{flavour.event_time} correlation {correlation:.3f}"
    )
    print(
        f"{'contender':<32}{'wall s':>8}{'rows/s':>13}{'peak RSS MB':>13}{'x psql':>8}{'x fastest peer':>16}"
    )
    for r in [*results, *extra]:
        s = r.seconds
        if s is None:
            print(f"{r.name:<32}{'failed':>8}")
            continue
        rate = f"{rows / s:,.0f}" if not r.name.startswith("  ") else "-"
        vs_psql = f"{s / ceiling:.2f}" if ceiling else "-"
        vs_peer = f"{s / fastest_s:.2f}" if fastest_s else "-"
        print(f"{r.name:<32}{s:>8.2f}{rate:>13}{r.rss_mb:>13.0f}{vs_psql:>8}{vs_peer:>16}")
    print(f"new-day run output: {extra[-1].out.splitlines()[0] if extra[-1].out else '-'}")
    rerun = extra[-2]
    ours_s, ours_rss = results[4].seconds, results[4].rss_mb
    if ours_s and fastest and fastest_s and ceiling and ours_rss is not None:
        best = fastest_s
        print(
            f"targets: <= fastest peer ({fastest.name}, {best:.2f}s): "
            f"{'met' if ours_s <= best else f'missed by {ours_s / best - 1:.0%}'}; "
            f"<= 1.5x psql ({1.5 * ceiling:.2f}s): "
            f"{'met' if ours_s <= 1.5 * ceiling else f'missed by {ours_s / (1.5 * ceiling) - 1:.0%}'}; "
            f"peak RSS <= 400 MB: {'met' if ours_rss <= 400 else 'missed'} "
            f"({ours_rss:.0f} MB); re-run < 1 s: "
            f"{'met' if rerun.seconds and rerun.seconds < 1 else 'missed'} ({rerun.seconds}s)"
        )
    if args.stop:
        sh(*LLMUSAGE, "db", "stop", env=env)


def normalized_query(url: str) -> str:
    """The flavour's range query (what `llmusage extract` sends, without payload) over every log."""
    import psycopg

    from llmusage.sources.spend_logs import spend_log_source

    with psycopg.connect(url) as conn:
        source = spend_log_source(conn)
        query = source.range_query(conn, datetime(2000, 1, 1), datetime(2100, 1, 1), with_payload=False)
    return " ".join(line.split("--")[0].strip() for line in query.splitlines() if line.split("--")[0].strip())


def new_day_insert(flavour: Flavour, day: date) -> str:
    """The last day's rows again, one day later (request ids prefixed `bench-newday-`)."""
    shift = ["request_id = 'bench-newday-' || request_id", "created_at = created_at + interval '1 day'"]
    if flavour.name == "litellm":
        shift += [
            '"startTime" = "startTime" + interval \'1 day\'',
            '"endTime" = "endTime" + interval \'1 day\'',
        ]
    last = day - timedelta(days=1)
    return (
        f'CREATE TEMP TABLE bench_new_day AS SELECT * FROM "LiteLLM_SpendLogs" '
        f"WHERE {flavour.event_time} >= '{last}' AND {flavour.event_time} < '{day}'; "
        f"UPDATE bench_new_day SET {', '.join(shift)}; "
        'INSERT INTO "LiteLLM_SpendLogs" SELECT * FROM bench_new_day'
    )


def spend_log_count(base: list[str]) -> int:
    out = subprocess.run(
        [*base, "-c", 'SELECT count(*) FROM "LiteLLM_SpendLogs"'], capture_output=True, text=True
    )
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else 0


def current_correlation(base: list[str], flavour: Flavour) -> float:
    """pg_stats' correlation of the event time with the physical row order (1: appended in time order)."""
    if not spend_log_count(base):
        return 0.0
    sh(*base, "-c", 'ANALYZE "LiteLLM_SpendLogs"')
    column = flavour.event_time.strip('"')
    query = f"SELECT correlation FROM pg_stats WHERE tablename = 'LiteLLM_SpendLogs' AND attname = '{column}'"
    value = sh(*base, "-c", query).strip()
    return float(value) if value else 0.0


if __name__ == "__main__":
    main()
