"""Servers on loopback for benchmarks and soaks: a free port, waiting for `/health`, stopping processes."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterable


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until `url/health` answers 200; raise if the process exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


def stop(procs: Iterable[subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    """Terminate the processes (last started first), killing those that outlive `grace` seconds."""
    for proc in reversed(list(procs)):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
