"""bench/proxy: latency and throughput, direct to mock-upstream vs through the proxy (loopback only).

Usage: .venv/bin/python bench/proxy/run.py [--count N] [--seconds S] [--concurrency 1,8,32,128] [--workers W]
       [--rounds R] [--metrics-cost]
Uses LLMUSAGE_DATABASE_URL's server (or the embedded one) for a scratch database it drops afterwards.
"""

from __future__ import annotations

import argparse
import sys

from llmusage.devtools.proxy_bench import run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="requests per phase (upper bound)")
    parser.add_argument("--seconds", type=float, default=8.0, help="time limit per phase")
    parser.add_argument("--concurrency", default="1,8,32,128")
    parser.add_argument("--workers", type=int, default=1, help="proxy worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="direct/proxy alternations per concurrency")
    parser.add_argument(
        "--metrics-cost",
        action="store_true",
        help="also run a proxy with --no-metrics in the same rounds and report the ratio",
    )
    args = parser.parse_args()
    concurrencies = tuple(int(c) for c in args.concurrency.split(","))
    return run(
        concurrencies, args.count, args.seconds, args.workers, args.rounds, metrics_cost=args.metrics_cost
    )


if __name__ == "__main__":
    sys.exit(main())
