"""Extraction benchmark: `llmusage extract` to Parquet against psql, ADBC, DuckDB and ConnectorX to Arrow.

Run from the repository root with the project's venv:

    .venv/bin/python bench/extract/run.py [--rows 2000000] [--days 30] [--stop]

It seeds N spend logs into the embedded PostgreSQL under bench/.home (skipped when the database already
holds exactly N logs from this script), makes two venvs for the peers (bench/.venv-peers: ADBC and
ConnectorX; bench/.venv-duckdb: duckdb 1.4.4 with duckdb-ext-postgres), then times each contender in a
process of its own under /usr/bin/time (wall time, peak RSS), and prints one table with the ratios.
Every contender reads the same columns (the lake's, without payload).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
HOME = BENCH / ".home"
LLMUSAGE = ROOT / ".venv" / "bin" / "llmusage"
PEERS = BENCH / ".venv-peers"
DUCK = BENCH / ".venv-duckdb"
END = "2026-11-20"
COLUMNS = (
    'request_id, api_key, model, api_provider, total_tokens, prompt_tokens, completion_tokens, spend, "user", '
    "team_id, metadata, created_at"
)
QUERY = f'SELECT {COLUMNS} FROM "LiteLLM_SpendLogs"'

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
con.execute("USE pg")
print(con.sql(sys.argv[2]).fetch_arrow_table().num_rows)
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the fastest counts")
    parser.add_argument("--stop", action="store_true", help="stop the embedded server at the end")
    parser.add_argument(
        "--order",
        choices=["seeded", "time"],
        default="seeded",
        help="physical row order: as the seed writes it (shuffled in time), or CLUSTERed by created_at "
        "as a table that is appended to in real time is",
    )
    args = parser.parse_args()
    if not 1 <= args.rows <= 10_000_000:
        sys.exit("--rows must be between 1 and 10,000,000")

    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    env["LLMUSAGE_HOME"] = str(HOME)
    peers_py = ensure_venv(PEERS, ["adbc-driver-postgresql", "connectorx", "pyarrow"])
    duck_py = ensure_venv(DUCK, ["duckdb==1.4.4", "duckdb-ext-postgres", "pyarrow"])

    url = sh(str(LLMUSAGE), "db", "url", env=env).strip()
    socket_dir = url.split("host=")[1].split("&")[0]
    psql = ROOT / ".venv/lib/python3.11/site-packages/pgserver/pginstall/bin/psql"
    if not psql.exists():
        psql = next((ROOT / ".venv/lib").glob("python3*/site-packages/pgserver/pginstall/bin/psql"))
    base = [str(psql), "-X", "-q", "-h", socket_dir, "-U", "postgres", "-d", "llmusage", "-At"]
    sh(str(LLMUSAGE), "db", "migrate", env=env)
    count = sh(*base, "-c", 'SELECT count(*) FROM "LiteLLM_SpendLogs"').strip()
    correlation = current_correlation(base)
    if count != str(args.rows) or (args.order == "seeded" and correlation > 0.5):
        print(f"seeding {args.rows:,} logs over {args.days} days ...", flush=True)
        seed_args = f"--logs {args.rows} --days {args.days} --seed 7 --end {END} --reset".split()
        sh(str(LLMUSAGE), "seed", *seed_args, env=env)
        sh(*base, "-c", 'VACUUM ANALYZE "LiteLLM_SpendLogs"')
    if args.order == "time" and current_correlation(base) < 0.9:
        print("clustering the spend log table by created_at ...", flush=True)
        sh(*base, "-c", 'CLUSTER "LiteLLM_SpendLogs" USING idx_spendlogs_created_at')
        sh(*base, "-c", 'VACUUM ANALYZE "LiteLLM_SpendLogs"')
    correlation = current_correlation(base)

    cx_url = f"postgresql://postgres@localhost:5432/llmusage?host={socket_dir}"
    duck_dsn = f"host={socket_dir} port=5432 dbname=llmusage user=postgres"
    n = args.repeat
    results = [
        timed("psql \\copy binary > /dev/null", [*base, "-c", f"\\copy ({QUERY}) TO /dev/null WITH (FORMAT binary)"], env, n),
        timed("ADBC -> Arrow", [str(peers_py), "-c", ADBC, url, QUERY], env, n),
        timed("DuckDB postgres -> Arrow", [str(duck_py), "-c", DUCKDB, duck_dsn, QUERY.replace('"LiteLLM', 'public."LiteLLM')], env, n),
        timed("ConnectorX -> Arrow", [str(peers_py), "-c", CONNECTORX, cx_url, QUERY], env, n),
    ]  # fmt: skip
    ours = []
    for _ in range(n):  # each a full extract into an empty lake
        shutil.rmtree(HOME / "lake", ignore_errors=True)
        ours.append(timed_once("llmusage extract -> Parquet", [str(LLMUSAGE), "extract"], env))
    results.append(min(ours, key=lambda r: r.seconds or float("inf")))
    rerun = timed("  re-run, nothing new", [str(LLMUSAGE), "extract"], env, n)

    # One new day: the last day's rows again, one day later, then a no-argument run.
    sh(*base, "-c", load_sql("new_day_insert.sql"))
    try:
        new_day = timed("  one new day", [str(LLMUSAGE), "extract"], env)
    finally:
        sh(*base, "-c", load_sql("new_day_delete.sql"))
        sh(str(LLMUSAGE), "extract", "--date", "2026-11-21", env=env)  # drop the new partition again

    peers = [r for r in results[1:4] if r.seconds]
    fastest = min(peers, key=lambda r: r.seconds or 0.0) if peers else None
    fastest_s = fastest.seconds if fastest else None
    ceiling = results[0].seconds
    print()
    print(
        f"best of {n} runs each; rows {args.rows:,} over {args.days} days; order {args.order}, created_at correlation {correlation:.3f}"
    )
    print(
        f"{'contender':<32}{'wall s':>8}{'rows/s':>13}{'peak RSS MB':>13}{'x psql':>8}{'x fastest peer':>16}"
    )
    for r in [*results, rerun, new_day]:
        s = r.seconds
        if s is None:
            print(f"{r.name:<32}{'failed':>8}")
            continue
        rows = args.rows if not r.name.startswith("  ") else None
        rate = f"{args.rows / s:,.0f}" if rows else "-"
        vs_psql = f"{s / ceiling:.2f}" if ceiling else "-"
        vs_peer = f"{s / fastest_s:.2f}" if fastest_s else "-"
        print(f"{r.name:<32}{s:>8.2f}{rate:>13}{r.rss_mb:>13.0f}{vs_psql:>8}{vs_peer:>16}")
    print(f"new-day run output: {new_day.out.splitlines()[0] if new_day.out else '-'}")
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
        sh(str(LLMUSAGE), "db", "stop", env=env)


def current_correlation(base: list[str]) -> float:
    """pg_stats' correlation of created_at with the physical row order (1: appended in time order)."""
    sh(*base, "-c", 'ANALYZE "LiteLLM_SpendLogs"')
    query = (
        "SELECT correlation FROM pg_stats WHERE tablename = 'LiteLLM_SpendLogs' AND attname = 'created_at'"
    )
    value = sh(*base, "-c", query).strip()
    return float(value) if value else 0.0


def load_sql(name: str) -> str:
    return (Path(__file__).with_name(name)).read_text()


if __name__ == "__main__":
    main()
