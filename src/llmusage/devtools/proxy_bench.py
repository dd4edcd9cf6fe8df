"""The proxy benchmark: latency percentiles and throughput, direct to mock-upstream vs through the proxy.

Everything runs on loopback on this machine: a scratch database on the configured server (migrated, one
team/user/key/model, dropped afterwards), `llmusage mock-upstream` and `llmusage proxy` as subprocesses, and
an in-process aiohttp load generator (uvloop). Each phase is bounded by a request count and a time limit.
Afterwards every request that went through the proxy must have its spend log in PostgreSQL. With
`metrics_cost` (`bench/proxy/run.py --metrics-cost`) a second proxy with `--no-metrics` takes its turn in the
same rounds, and the report gives the throughput of the proxy with metrics as a share of the one without.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from llmusage.config import Settings
from llmusage.devtools.loopback import free_port, stop, wait_healthy
from llmusage.devtools.scratch_db import create_scratch_database, drop_scratch_database
from llmusage.pg.connect import resolve_url

KEY = "sk-bench-" + "0" * 40
BODY = json.dumps(
    {"model": "bench-chat", "messages": [{"role": "user", "content": "hello bench"}], "max_tokens": 8}
).encode()
TARGETS = {"p50_ms": 1.0, "p99_ms": 5.0, "throughput_ratio_c32": 0.60}
METRICS_TARGET = 0.95  # throughput with metrics on, as a share of the same run's proxy with --no-metrics
SCRATCH_PREFIX = "llmusage_bench_proxy"

Write = Callable[[str], object]
"""Where the report's lines go (`print` by default)."""


@dataclass
class Phase:
    target: str
    concurrency: int
    latencies: list[float]
    seconds: float
    failures: int
    cpu: float = 0.0  # CPU seconds of the target's processes during the timed part (0 when not watched)

    def pct(self, p: float) -> float:
        lat = sorted(self.latencies)
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, round(p / 100 * (len(lat) - 1)))] * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants so far (Linux /proc; 0 elsewhere)."""
    total, pending = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while pending:
        p = pending.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pending += [int(c) for c in f.read().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


async def _phase(
    url: str,
    headers: dict[str, str],
    concurrency: int,
    count: int,
    limit_s: float,
    watch: int | None = None,
) -> Phase:
    import aiohttp

    latencies: list[float] = []
    failures = 0
    remaining = count
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        warm = max(concurrency * 4, 50)

        async def one() -> bool:
            async with session.post(url, data=BODY, headers=headers) as resp:
                await resp.read()
                return resp.status == 200

        await asyncio.gather(*[one() for _ in range(min(warm, concurrency))])
        for _ in range(warm // concurrency):
            await asyncio.gather(*[one() for _ in range(concurrency)])
        deadline = time.perf_counter() + limit_s

        async def worker() -> None:
            nonlocal remaining, failures
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                t0 = time.perf_counter()
                try:
                    ok = await one()
                except Exception:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    failures += 1

        cpu0 = cpu_seconds(watch) if watch else 0.0
        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds(watch) - cpu0 if watch else 0.0
    return Phase("", concurrency, latencies, seconds, failures, cpu)


def _seed(url: str, mock_url: str) -> None:
    import hashlib

    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO "LiteLLM_OrganizationTable" (organization_id, max_budget) VALUES ('org-b', 1e9)"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_TeamTable" (team_id, organization_id, max_budget) VALUES ('team-b', 'org-b', 1e9)"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_UserTable" (user_id, user_role, organization_id, max_budget)
               VALUES ('user-b', 'user', 'org-b', 1e9)"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id, max_budget)
               VALUES (%s, 'bench', 'user-b', 'team-b', 1e9)""",
            (hashlib.sha256(KEY.encode()).hexdigest(),),
        )
        params = {
            "model": "openai/bench-upstream",
            "api_base": mock_url + "/v1",
            "api_key": "os.environ/BENCH_PROVIDER_KEY",
        }
        info = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
        conn.execute(
            """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
               VALUES ('m-bench', 'bench-chat', %s, %s)""",
            (json.dumps(params), json.dumps(info)),
        )


def run(
    concurrencies: tuple[int, ...],
    count: int,
    limit_s: float,
    workers: int,
    rounds: int = 3,
    out: Write | None = None,
    metrics_cost: bool = False,
) -> int:
    """Run the benchmark and print the table; 0 if every target is met, 1 otherwise.

    With `metrics_cost`, a second proxy runs with `--no-metrics` beside the first (metrics on, the
    default), both in the same rounds, and the report adds their ratio (`METRICS_TARGET`)."""
    import uvloop

    write: Write = print if out is None else out
    settings = Settings.from_env()
    server_url = resolve_url(settings)
    db_url = create_scratch_database(server_url, SCRATCH_PREFIX)
    procs: list[subprocess.Popen[bytes]] = []
    home = tempfile.mkdtemp(prefix="llmusage-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    env.update(LLMUSAGE_DATABASE_URL=db_url, LLMUSAGE_HOME=home, BENCH_PROVIDER_KEY="sk-bench-provider")
    cmd = [sys.executable, "-m", "llmusage"]
    try:
        mport, pport = free_port(), free_port()
        mock_url, proxy_url = f"http://127.0.0.1:{mport}", f"http://127.0.0.1:{pport}"
        _seed(db_url, mock_url)
        procs.append(
            subprocess.Popen(
                [*cmd, "mock-upstream", "--port", str(mport)], env=env, stderr=subprocess.DEVNULL
            )
        )
        wait_healthy(mock_url, procs[-1])
        proxy_cmd = [*cmd, "proxy", "--port", str(pport), "--workers", str(workers)]
        procs.append(subprocess.Popen(proxy_cmd, env=env, stderr=subprocess.DEVNULL))
        wait_healthy(proxy_url, procs[-1])
        targets = [("direct", mock_url), ("proxy", proxy_url)]
        watched = {"proxy": procs[-1].pid}
        if metrics_cost:
            nport = free_port()
            bare_cmd = [*cmd, "proxy", "--port", str(nport), "--workers", str(workers), "--no-metrics"]
            procs.append(subprocess.Popen(bare_cmd, env=env, stderr=subprocess.DEVNULL))
            targets.append(("nometric", f"http://127.0.0.1:{nport}"))
            watched["nometric"] = procs[-1].pid
            wait_healthy(targets[-1][1], procs[-1])
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
        results: dict[tuple[str, int], Phase] = {}
        per_round: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}  # (c, round): req/s, cpu/req
        for c in concurrencies:
            # Alternate the targets in short rounds so that all see the same background load.
            for r in range(rounds):
                # Every other round the proxies go in the other order, so neither is always second.
                for target, base in targets if r % 2 == 0 else [targets[0], *targets[:0:-1]]:
                    phase = uvloop.run(
                        _phase(
                            base + "/v1/chat/completions",
                            headers,
                            c,
                            count // rounds,
                            limit_s / rounds,
                            watched.get(target) if metrics_cost else None,
                        )
                    )
                    phase.target = target
                    if target != "direct":
                        per_req = phase.cpu / max(1, len(phase.latencies))
                        per_round.setdefault((c, r), {})[target] = (phase.rps, per_req)
                    merged = results.get((target, c))
                    if merged is None:
                        results[(target, c)] = phase
                    else:
                        merged.latencies += phase.latencies
                        merged.seconds += phase.seconds
                        merged.failures += phase.failures
                        merged.cpu += phase.cpu
        # Warm-up requests went through the proxy too: count them from the database, compare with the total sent.
        logged = _wait_logged(db_url, [base for t, base in targets if t != "direct"])
        code = _report(results, concurrencies, logged, write, workers)
        if metrics_cost:
            code |= _report_metrics_cost(results, concurrencies, per_round, write)
        return code
    finally:
        stop(procs)
        drop_scratch_database(server_url, db_url)
        import shutil

        shutil.rmtree(home, ignore_errors=True)


def _wait_logged(db_url: str, proxy_urls: list[str]) -> tuple[int, int]:
    """(spend logs in the database, requests the proxies answered 200) once their spools are drained."""
    import urllib.request

    deadline = time.monotonic() + 60
    pending = list(proxy_urls)
    while pending and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(pending[0] + "/health/ready", timeout=2) as r:
                if json.loads(r.read())["spool"]["depth"] == 0:
                    pending.pop(0)
                    continue
        except OSError:
            pass
        time.sleep(0.1)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE metadata->>'status' = 'success') FROM "LiteLLM_SpendLogs" """
        ).fetchone()
    logs, ok = row if row is not None else (0, 0)
    return int(logs), int(ok)


def _report(
    results: dict[tuple[str, int], Phase],
    concurrencies: tuple[int, ...],
    logged: tuple[int, int],
    out: Write,
    workers: int,
) -> int:
    out(
        f"proxy benchmark: {os.cpu_count()} CPUs, proxy workers={workers}, load generator in-process (aiohttp, uvloop)"
    )
    out("direct and proxy alternate in rounds; non-streaming chat completions (8 tokens); loopback only")
    out("")
    head = (
        f"{'c':>4} {'target':<7} {'n':>6} {'fail':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}"
    )
    out(head)
    out("-" * len(head))
    for c in concurrencies:
        for target in ("direct", "proxy"):
            p = results[(target, c)]
            out(
                f"{c:>4} {target:<7} {len(p.latencies):>6} {p.failures:>4} {p.pct(50):>8.3f} {p.pct(95):>8.3f} {p.pct(99):>8.3f} {p.rps:>8.0f}"
            )
        d, x = results[("direct", c)], results[("proxy", c)]
        out(
            f"{c:>4} {'added':<7} {'':>6} {'':>4} {x.pct(50) - d.pct(50):>+8.3f} {x.pct(95) - d.pct(95):>+8.3f} "
            f"{x.pct(99) - d.pct(99):>+8.3f} {x.rps / d.rps:>7.0%}"
        )
    out("")
    misses: list[str] = []
    for c in concurrencies:
        if c > 8:
            continue
        d, x = results[("direct", c)], results[("proxy", c)]
        a50, a99 = x.pct(50) - d.pct(50), x.pct(99) - d.pct(99)
        out(
            f"target c={c}: added p50 {a50:.3f} ms (<= {TARGETS['p50_ms']}), added p99 {a99:.3f} ms (<= {TARGETS['p99_ms']})"
        )
        if a50 > TARGETS["p50_ms"]:
            misses.append(f"c={c} added p50 {a50:.3f} ms > {TARGETS['p50_ms']} ms")
        if a99 > TARGETS["p99_ms"]:
            misses.append(f"c={c} added p99 {a99:.3f} ms > {TARGETS['p99_ms']} ms")
    if 32 in concurrencies:
        ratio = results[("proxy", 32)].rps / results[("direct", 32)].rps
        out(f"target c=32: proxy throughput {ratio:.0%} of direct (>= {TARGETS['throughput_ratio_c32']:.0%})")
        if ratio < TARGETS["throughput_ratio_c32"]:
            misses.append(f"c=32 throughput {ratio:.0%} of direct < {TARGETS['throughput_ratio_c32']:.0%}")
    failures = sum(p.failures for p in results.values())
    out(f"failed requests: {failures}")
    if failures:
        misses.append(f"{failures} failed requests")
    logs, successes = logged
    sent = sum(len(p.latencies) for (t, _), p in results.items() if t != "direct")
    out(
        f"spend logs in PostgreSQL: {logs} ({successes} success) for {sent} timed + warm-up requests through the proxy"
    )
    if sent > successes:
        misses.append(f"only {successes} spend logs for at least {sent} proxied requests")
    out("")
    if misses:
        out("MISSED: " + "; ".join(misses))
        return 1
    out("all targets met")
    return 0


def _report_metrics_cost(
    results: dict[tuple[str, int], Phase],
    concurrencies: tuple[int, ...],
    per_round: dict[tuple[int, int], dict[str, tuple[float, float]]],
    out: Write,
) -> int:
    """Metrics on (`proxy`) against `--no-metrics` (`nometric`), same rounds: req/s, the proxy process's CPU
    per request (steadier than req/s on a shared machine) and p50/p99; then the median over rounds of the
    ratio within each round (the two phases of a round are seconds apart, so other load on the machine
    weighs on both alike), which is the figure the target is checked on."""
    out("")
    out("metrics cost: proxy (metrics on) against proxy --no-metrics, alternated in the same rounds")
    head = (
        f"{'c':>4} {'on req/s':>9} {'off req/s':>9} {'on/off':>7} {'on cpu/req':>10} {'off cpu/req':>11} "
        f"{'off/on':>7} {'p50 on':>8} {'p50 off':>8} {'p99 on':>8} {'p99 off':>8}"
    )
    out(head)
    out("-" * len(head))
    sums = {"on_n": 0, "off_n": 0, "on_s": 0.0, "off_s": 0.0, "on_cpu": 0.0, "off_cpu": 0.0}
    for c in concurrencies:
        on, off = results[("proxy", c)], results[("nometric", c)]
        n_on, n_off = len(on.latencies) or 1, len(off.latencies) or 1
        cpu_on, cpu_off = on.cpu / n_on * 1e6, off.cpu / n_off * 1e6
        sums["on_n"] += n_on
        sums["off_n"] += n_off
        sums["on_s"] += on.seconds
        sums["off_s"] += off.seconds
        sums["on_cpu"] += on.cpu
        sums["off_cpu"] += off.cpu
        out(
            f"{c:>4} {on.rps:>9.0f} {off.rps:>9.0f} {on.rps / off.rps:>7.1%} {cpu_on:>8.1f}us {cpu_off:>9.1f}us "
            f"{cpu_off / cpu_on if cpu_on else float('nan'):>7.1%} {on.pct(50):>8.3f} {off.pct(50):>8.3f} "
            f"{on.pct(99):>8.3f} {off.pct(99):>8.3f}"
        )
    rps = (sums["on_n"] / sums["on_s"]) / (sums["off_n"] / sums["off_s"])
    cpu_on = sums["on_cpu"] / sums["on_n"]
    cpu_off = sums["off_cpu"] / sums["off_n"]
    cpu = cpu_off / cpu_on if cpu_on else float("nan")
    out(
        f"all concurrencies: throughput on/off {rps:.1%}; CPU per request on {cpu_on * 1e6:.1f} us, "
        f"off {cpu_off * 1e6:.1f} us: off/on {cpu:.1%} (the throughput a CPU-bound proxy keeps)"
    )
    pairs = [v for v in per_round.values() if v.get("nometric", (0, 0))[0] and v.get("proxy", (0, 0))[1]]
    med_rps = statistics.median(v["proxy"][0] / v["nometric"][0] for v in pairs)
    med_cpu = statistics.median(v["nometric"][1] / v["proxy"][1] for v in pairs)
    out(
        f"median over {len(pairs)} rounds of the in-round ratio: throughput on/off {med_rps:.1%}, "
        f"CPU per request off/on {med_cpu:.1%}"
    )
    out(f"target: with metrics >= {METRICS_TARGET:.0%} of without (the medians of the in-round ratios)")
    misses = [
        f"{what} {v:.1%} < {METRICS_TARGET:.0%}"
        for what, v in (("throughput", med_rps), ("cpu", med_cpu))
        if v < METRICS_TARGET
    ]
    if misses:
        out("MISSED: metrics cost: " + "; ".join(misses))
        return 1
    return 0
