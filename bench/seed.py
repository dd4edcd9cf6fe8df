"""Seed throughput: `llmusage seed` at several sizes into the embedded PostgreSQL, one process each.

Usage: .venv/bin/python bench/seed.py [--rows 1000000,2000000] [--home bench/out/seed-home]
Prints rows, wall seconds, logs/s and the seed process's peak RSS. Target: >= 200k logs/s.
The server under --home is stopped at the end if this script started it.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,2000000")
    parser.add_argument("--home", default=str(ROOT / "bench" / "out" / "seed-home"))
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    env["LLMUSAGE_HOME"] = args.home
    Path(args.home).mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "llmusage"]
    subprocess.run([*cli, "db", "migrate"], env=env, check=True, capture_output=True)
    print(f"{'rows':>12} {'wall s':>8} {'logs/s':>10} {'peak RSS MB':>12}")
    for rows in (int(r) for r in args.rows.split(",")):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run(
            [*cli, "seed", "--logs", str(rows), "--days", "30", "--reset"],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode:
            sys.exit(done.stderr)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rate = re.search(r"\(([\d,]+) logs/s\)", done.stdout)
        inner = rate.group(1) if rate else "?"
        rss = f"{peak / 1024:.0f}" if peak > before else "<= previous"
        print(
            f"{rows:>12,} {wall:>8.1f} {inner:>10} {rss:>12}   (process wall incl. start-up: {rows / wall:,.0f}/s)"
        )
    subprocess.run([*cli, "db", "stop"], env=env, capture_output=True)


if __name__ == "__main__":
    main()
