"""Running the proxy: one process (uvloop), or W worker processes sharing the port via SO_REUSEPORT.

The caller has checked the database first (`preflight.check_database`, as `llmusage proxy` does), once for
all workers; each worker's startup then only opens its pool and loads the model catalog. With several
workers and metrics on, the run gets a folder `$LLMUSAGE_HOME/metrics/run-<pid>` where the workers leave
their metrics snapshots for each other (`prometheus`), removed when the run ends (and, after a kill, by the
next run).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import shutil
import signal
import sys

from llmusage.proxy.options import ProxyOptions


def serve_one(options: ProxyOptions, host: str, port: int, reuse_port: bool) -> None:
    import uvloop

    from llmusage.proxy.app import build_app
    from llmusage.proxy.httpserver import Server

    # The spool's fsync runs on a helper thread; with the default 5 ms GIL switch interval a busy event
    # loop makes that thread wait milliseconds to hand its result back (docs/benchmarks.md, "Proxy").
    sys.setswitchinterval(0.0002)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr
    )
    uvloop.run(Server(build_app(options)).run(host, port, reuse_port=reuse_port, shutdown_timeout=5.0))


def serve(options: ProxyOptions, host: str, port: int, workers: int) -> None:
    """Serve until SIGINT/SIGTERM. With workers > 1 each worker has its own cache, ledger and spool segment."""
    if workers <= 1:
        serve_one(options, host, port, reuse_port=False)
        return
    metrics_dir = None
    if options.metrics:
        from llmusage.proxy.prometheus import run_dir

        metrics_dir = run_dir(options.spool_dir.parent / "metrics")
        options = dataclasses.replace(options, metrics_dir=metrics_dir)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=serve_one, args=(options, host, port, True), daemon=False) for _ in range(workers)
    ]
    for p in procs:
        p.start()

    def stop(signum: int, _frame: object) -> None:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)
