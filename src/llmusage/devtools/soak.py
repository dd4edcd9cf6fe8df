"""A soak of the proxy: a steady request rate for a long time, the proxy's memory sampled, growth bounded.

`bench/soak.py` runs it for 10 minutes, `tests/reliability/test_soak.py` for 30 seconds. Everything is on
loopback: `llmusage mock-upstream` and `llmusage proxy` as subprocesses, an in-process aiohttp client that
starts request i at t0 + i/rate (bounded concurrency, so a slow proxy shows as lag, not as a pile-up), and
the proxy's resident set size (VmRSS from /proc) read every `sample_every` seconds. Growth is the median
of the last quarter of the samples minus the median of the first quarter after a warm-up (the first 10%
of the run, at least one sample), so one noisy sample neither hides nor fakes a leak. Afterwards every 200
must have exactly one spend log. The run fails if growth passes `max_growth_mb` or any request failed.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from llmusage.devtools.loopback import free_port, stop, wait_healthy
from llmusage.pg import migrations

KEY = "sk-soak-" + "5" * 32
BODY = json.dumps(
    {"model": "soak-chat", "messages": [{"role": "user", "content": "soak test words"}], "max_tokens": 8}
).encode()


@dataclass
class SoakResult:
    seconds: float
    sent: int
    ok: int
    failed: dict[str, int]
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, RSS MB)
    logged: int = 0
    duplicates: int = 0
    max_lag_s: float = 0.0

    @property
    def baseline_mb(self) -> float:
        return statistics.median(rss for _, rss in self._window(first=True))

    @property
    def final_mb(self) -> float:
        return statistics.median(rss for _, rss in self._window(first=False))

    @property
    def growth_mb(self) -> float:
        return self.final_mb - self.baseline_mb

    def _window(self, first: bool) -> list[tuple[float, float]]:
        warm = [s for s in self.samples if s[0] >= 0.1 * self.seconds] or self.samples
        quarter = max(1, len(warm) // 4)
        return warm[:quarter] if first else warm[-quarter:]

    def summary(self) -> str:
        return (
            f"{self.seconds:.0f} s, {self.sent} sent, {self.ok} ok, failed {self.failed or 0}, "
            f"{self.logged} logged ({self.duplicates} duplicated), max start lag {self.max_lag_s * 1000:.0f} ms; "
            f"proxy RSS {self.samples[0][1]:.1f} MB at start, {self.baseline_mb:.1f} MB after warm-up, "
            f"{self.final_mb:.1f} MB at the end: growth {self.growth_mb:+.1f} MB over {len(self.samples)} samples"
        )


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _seed(url: str, mock_url: str) -> None:
    import hashlib

    with psycopg.connect(url, autocommit=True) as conn:
        migrations.migrate(conn)
        conn.execute(
            """INSERT INTO "LiteLLM_TeamTable" (team_id) VALUES ('soak-team') ON CONFLICT DO NOTHING"""
        )
        conn.execute(
            """INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, team_id) VALUES (%s, 'soak', 'soak-team')
               ON CONFLICT DO NOTHING""",
            (hashlib.sha256(KEY.encode()).hexdigest(),),
        )
        params = {"model": "openai/soak", "api_base": mock_url + "/v1", "api_key": "unused"}
        info = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
        conn.execute(
            """INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info)
               VALUES ('m-soak', 'soak-chat', %s, %s)
               ON CONFLICT (model_id) DO UPDATE SET litellm_params = EXCLUDED.litellm_params""",
            (json.dumps(params), json.dumps(info)),
        )


async def _load(
    url: str,
    seconds: float,
    rate: float,
    concurrency: int,
    result: SoakResult,
    sample: Callable[[float], None],
    sample_every: float,
) -> list[str]:
    import aiohttp

    ids: list[str] = []
    sem = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    total = int(seconds * rate)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def one() -> None:
            try:
                async with session.post(url + "/v1/chat/completions", data=BODY, headers=headers) as resp:
                    await resp.read()
                    if resp.status == 200:
                        result.ok += 1
                        ids.append(resp.headers["x-request-id"])
                    else:
                        result.failed[str(resp.status)] = result.failed.get(str(resp.status), 0) + 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                result.failed[type(exc).__name__] = result.failed.get(type(exc).__name__, 0) + 1
            finally:
                sem.release()

        async def sampler() -> None:
            while True:
                sample(loop.time() - t0)
                await asyncio.sleep(sample_every)

        sampling = asyncio.create_task(sampler())
        tasks: set[asyncio.Task[None]] = set()
        for i in range(total):
            due = t0 + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await sem.acquire()
            result.max_lag_s = max(result.max_lag_s, loop.time() - due)
            result.sent += 1
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        sampling.cancel()
        sample(loop.time() - t0)
    return ids


def run_soak(
    database_url: str,
    workdir: Path,
    seconds: float = 600.0,
    rate: float = 100.0,
    sample_every: float = 5.0,
    concurrency: int = 32,
) -> SoakResult:
    """Soak the proxy (see the module docstring); the database must be one this run may write to."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUSAGE_")}
    env.update(LLMUSAGE_DATABASE_URL=database_url, LLMUSAGE_HOME=str(workdir / "home"))
    mock_port, proxy_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for name, args in (
            ("mock", ["mock-upstream", "--port", str(mock_port)]),
            ("proxy", ["proxy", "--port", str(proxy_port)]),
        ):
            if name == "proxy":
                _seed(database_url, f"http://127.0.0.1:{mock_port}")
            log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115
            logs.append(log)
            cmd = [sys.executable, "-m", "llmusage", *args]
            procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
            wait_healthy(f"http://127.0.0.1:{mock_port if name == 'mock' else proxy_port}", procs[-1])
        proxy = procs[1]
        url = f"http://127.0.0.1:{proxy_port}"
        result = SoakResult(seconds=seconds, sent=0, ok=0, failed={})

        def sample(at: float) -> None:
            result.samples.append((at, rss_mb(proxy.pid)))

        ids = asyncio.run(_load(url, seconds, rate, concurrency, result, sample, sample_every))
        deadline = time.monotonic() + 30
        with psycopg.connect(database_url) as conn:
            while True:
                found = conn.execute(
                    'SELECT count(*), count(DISTINCT request_id) FROM "LiteLLM_SpendLogs" WHERE request_id = ANY(%s)',
                    (ids,),
                ).fetchone()
                assert found is not None
                if found[0] >= len(ids) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            rows = conn.execute(
                'SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE request_id = ANY(%s) GROUP BY request_id HAVING count(*) > 1',
                (ids,),
            ).fetchall()
        result.logged = int(found[1])
        result.duplicates = len(rows)
        return result
    finally:
        stop(procs)
        for log in logs:
            log.close()


def verdict(result: SoakResult, max_growth_mb: float) -> list[str]:
    """What is wrong with a soak run (empty: it passed)."""
    problems = []
    if result.failed:
        problems.append(f"failed requests: {result.failed}")
    if result.ok != result.sent:
        problems.append(f"{result.sent - result.ok} of {result.sent} requests not answered 200")
    if result.logged != result.ok or result.duplicates:
        problems.append(
            f"{result.ok} answered 200 but {result.logged} logged, {result.duplicates} duplicated"
        )
    if result.growth_mb > max_growth_mb:
        problems.append(f"proxy RSS grew {result.growth_mb:.1f} MB (bound {max_growth_mb} MB)")
    return problems
