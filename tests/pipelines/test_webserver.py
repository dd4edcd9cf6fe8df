"""The real dagster-webserver on a free loopback port (known to be its own): the asset graph read through its
GraphQL API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from llmusage.devtools.loopback import free_port
from support.proxy import listens

ROOT = Path(__file__).resolve().parents[2]
QUERY = "{ assetNodes { assetKey { path } groupName hasAssetChecks dependencyKeys { path } } }"


def _post(url: str, query: str) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """dagster-webserver on a free port, known to be the one answering there; a port another process took
    between choosing and binding it is chosen again."""
    webserver = Path(sys.executable).with_name("dagster-webserver")
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while proc.poll() is None:
            try:
                if listens(proc.pid, port):
                    with urllib.request.urlopen(f"{base}/server_info", timeout=5) as response:
                        if response.status == 200:
                            return proc, base
            except OSError:
                pass
            if time.monotonic() > deadline:
                _stop(proc)
                raise AssertionError("dagster-webserver did not answer within 180 s")
            time.sleep(0.5)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if "address already in use" not in err.lower():
            raise AssertionError(err[-2000:] or "exited")
    raise AssertionError("no free port in five tries")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_webserver_serves_the_asset_graph(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMUSAGE_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(tmp_path), LLMUSAGE_HOME=str(tmp_path / "home"))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    proc, base = _start(env)
    try:
        nodes = _post(f"{base}/graphql", QUERY)["data"]["assetNodes"]
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert by_key["spend_logs"]["groupName"] == "ingest" and by_key["spend_logs"]["hasAssetChecks"]
        assert by_key["budget_status"]["groupName"] == "budgets" and by_key["budget_status"]["hasAssetChecks"]
        assert by_key["warehouse"]["groupName"] == "warehouse"
        assert ["budget_status"] in [d["path"] for d in by_key["budget_flags"]["dependencyKeys"]]
    finally:
        _stop(proc)
