"""bench/soak: the proxy at a steady rate for a long time, its memory sampled, growth bounded (loopback only).

Usage: .venv/bin/python bench/soak.py [--seconds 600] [--rate 100] [--sample-every 5] [--max-growth-mb 32]
       [--database-url URL]
Without --database-url: a scratch database on LLMUSAGE_DATABASE_URL's server (or the embedded one), dropped
afterwards. Exit status 1 when RSS grew past the bound, a request failed, or a 200 has no single spend log.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from llmusage.devtools.scratch_db import scratch_database
from llmusage.devtools.soak import run_soak, verdict

SCRATCH_PREFIX = "llmusage_bench_soak"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second, steady")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--max-growth-mb", type=float, default=32.0)
    parser.add_argument("--database-url", help="a migrated (or empty) database this run may write to")
    args = parser.parse_args()
    with ExitStack() as stack:
        url = args.database_url
        if url is None:
            from llmusage.config import Settings
            from llmusage.pg.connect import resolve_url

            url = stack.enter_context(scratch_database(resolve_url(Settings.from_env()), SCRATCH_PREFIX))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="llmusage-soak-"))
        result = run_soak(url, Path(tmp), args.seconds, args.rate, args.sample_every)
    print(result.summary())
    for at, rss in result.samples:
        print(f"  t={at:7.1f} s  rss={rss:7.1f} MB")
    problems = verdict(result, args.max_growth_mb)
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print(f"ok: growth {result.growth_mb:+.1f} MB within {args.max_growth_mb} MB")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
